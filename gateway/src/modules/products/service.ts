/**
 * The catalogue. Orders are priced from it at creation; a short in-memory cache (bounded staleness,
 * CATALOGUE_CACHE_MS) keeps the hot path off the database, and this instance's own updates invalidate
 * it at once. Stock here is the sellable quantity the inventory stage reserves from.
 */
import { PgErrorCodes, pgErrorCode, type Sql } from '@orders/platform';
import { recordAdminAction } from '../../audit';
import { GatewayErrorCodes } from '../../error-codes';
import { DomainError } from '../../errors';
import type { CreateProductBody, ProductPage, ProductView, UpdateProductBody } from './model';

interface ProductRow {
  sku: string;
  name: string;
  price_cents: number;
  currency: string;
  stock: number;
  active: boolean;
  updated_at: Date;
}

export interface PriceEntry {
  sku: string;
  priceCents: number;
  currency: string;
  active: boolean;
  /** Units in stock when read (the inventory stage reserves for real; this only refuses what is gone). */
  stock: number;
}

const COLUMNS = 'sku, name, price_cents, currency, stock, active, updated_at';

const productNotFound = (sku: string) =>
  new DomainError('not_found', GatewayErrorCodes.productsNotFound, 'Product not found', `No product ${sku}.`);

function view(p: ProductRow): ProductView {
  return {
    sku: p.sku,
    name: p.name,
    priceCents: p.price_cents,
    currency: p.currency,
    stock: p.stock,
    active: p.active,
    updatedAt: p.updated_at.toISOString(),
  };
}

export class ProductsService {
  private readonly cache = new Map<string, { entry: PriceEntry | null; at: number }>();

  constructor(
    private readonly sql: Sql,
    private readonly cacheMs: number,
  ) {}

  /** Prices for these SKUs (null for unknown ones), from memory when fresh enough. */
  async prices(skus: string[]): Promise<Map<string, PriceEntry | null>> {
    const now = Date.now();
    const out = new Map<string, PriceEntry | null>();
    const missing: string[] = [];
    for (const sku of skus) {
      const hit = this.cache.get(sku);
      if (hit && now - hit.at < this.cacheMs) out.set(sku, hit.entry);
      else missing.push(sku);
    }
    if (missing.length > 0) {
      const rows = await this.sql<{ sku: string; price_cents: number; currency: string; active: boolean; stock: number }[]>`
        SELECT sku, price_cents, currency, active, stock FROM products WHERE sku IN ${this.sql(missing)}`;
      const found = new Map(
        rows.map((r) => [r.sku, { sku: r.sku, priceCents: r.price_cents, currency: r.currency, active: r.active, stock: r.stock }]),
      );
      for (const sku of missing) {
        const entry = found.get(sku) ?? null;
        out.set(sku, entry);
        if (this.cacheMs > 0) this.cache.set(sku, { entry, at: now });
      }
      if (this.cache.size > 100_000) this.cache.clear();
    }
    return out;
  }

  async list(opts: { limit: number; cursor?: string; includeInactive: boolean }): Promise<ProductPage> {
    const rows = await this.sql<ProductRow[]>`
      SELECT ${this.sql.unsafe(COLUMNS)} FROM products
      WHERE TRUE
        ${opts.cursor ? this.sql`AND sku > ${opts.cursor}` : this.sql``}
        ${opts.includeInactive ? this.sql`` : this.sql`AND active`}
      ORDER BY sku
      LIMIT ${opts.limit + 1}`;
    const page = rows.slice(0, opts.limit);
    return { items: page.map(view), nextCursor: rows.length > opts.limit ? (page[page.length - 1]?.sku ?? null) : null };
  }

  async get(sku: string, includeInactive: boolean): Promise<ProductView> {
    const [row] = await this.sql<ProductRow[]>`SELECT ${this.sql.unsafe(COLUMNS)} FROM products WHERE sku = ${sku}`;
    if (!row || (!row.active && !includeInactive)) throw productNotFound(sku);
    return view(row);
  }

  /** Creates a product; `actorId` (an admin) goes into the audit trail with it. */
  async create(body: CreateProductBody, actorId: string): Promise<ProductView> {
    try {
      const [row] = await this.sql.begin(async (tx) => {
        const rows = await tx<ProductRow[]>`
          INSERT INTO products (sku, name, price_cents, currency, stock, active)
          VALUES (${body.sku}, ${body.name}, ${body.priceCents}, ${body.currency}, ${body.stock}, ${body.active ?? true})
          RETURNING ${tx.unsafe(COLUMNS)}`;
        await recordAdminAction(tx as unknown as Sql, actorId, 'product.created', body.sku, body);
        return rows;
      });
      this.cache.delete(body.sku);
      return view(row as ProductRow);
    } catch (err) {
      if (pgErrorCode(err) === PgErrorCodes.uniqueViolation) {
        throw new DomainError(
          'conflict',
          GatewayErrorCodes.productsSkuTaken,
          'SKU already exists',
          `A product ${body.sku} exists; update it instead.`,
        );
      }
      throw err;
    }
  }

  /** Changes a product; `actorId` (an admin) goes into the audit trail with the change. */
  async update(sku: string, body: UpdateProductBody, actorId: string): Promise<ProductView> {
    const [row] = await this.sql.begin(async (tx) => {
      const rows = await tx<ProductRow[]>`
        UPDATE products SET
          name = COALESCE(${body.name ?? null}, name),
          price_cents = COALESCE(${body.priceCents ?? null}::bigint, price_cents),
          stock = COALESCE(${body.stock ?? null}::integer, stock),
          active = COALESCE(${body.active ?? null}::boolean, active),
          updated_at = now()
        WHERE sku = ${sku}
        RETURNING ${tx.unsafe(COLUMNS)}`;
      if (rows.length > 0) await recordAdminAction(tx as unknown as Sql, actorId, 'product.updated', sku, body);
      return rows;
    });
    this.cache.delete(sku);
    if (!row) throw productNotFound(sku);
    return view(row);
  }
}
