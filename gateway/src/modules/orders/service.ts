/**
 * Orders: placing, reading, listing, changing and cancelling them. Prices and totals are computed here
 * from the catalogue, never taken from the client. Every write puts the change, its history and its
 * outbox event in one transaction: an acknowledged change always has its event, a failed one leaves
 * nothing behind. Customers only ever reach their own orders (another customer's answers 404).
 */
import {
  CANCELLABLE_STATUSES,
  Events,
  type OrderCancelled,
  type OrderPlaced,
  type OrderStatus,
  type OrderUpdated,
} from '@orders/contracts';
import { PgErrorCodes, type Principal, pgErrorCode, type Sql } from '@orders/platform';
import { recordAdminAction } from '../../audit';
import { DomainError } from '../../errors';
import type { ProductsService } from '../products/service';
import type { OrderCache } from './cache';
import { findReplay, keyInFlight, keyMismatch, requestHash } from './idempotency';
import type { AdminListOrdersQuery, CreateOrderBody, HistoryView, OrderPage, OrderView, UpdateOrderBody } from './model';
import { decodeCursor, encodeCursor } from './pagination';
import { CoalescingReader } from './reader';
import { type OrderDraft, type OrderWriter, WriterBusy } from './writer';

/** Outbox headers (Kafka headers once published): the request's trace context, when there is one. */
function traceHeaders(trace: string | undefined): Record<string, string> {
  return trace ? { traceparent: trace } : {};
}

export interface OutboxSignal {
  /** Tells the publisher that new rows were committed. */
  wake(): void;
}

interface OrderRow {
  id: string;
  user_id: string;
  status: OrderStatus;
  status_reason: string | null;
  currency: string;
  total_cents: number;
  version: number;
  revision: number;
  created_at: Date;
  updated_at: Date;
  items: { sku: string; quantity: number; unit_price_cents: number }[];
}

type Line = { line_no: number; sku: string; quantity: number; unit_price_cents: number };

const notFound = (id: string) => new DomainError('not_found', 'ORDERS_NOT_FOUND', 'Order not found', `No order ${id}.`);

/** Orders with their lines in one round trip. */
const ORDER_SELECT = `
  SELECT o.id, o.user_id, o.status, o.status_reason, o.currency, o.total_cents, o.version, o.revision, o.created_at, o.updated_at,
         COALESCE((SELECT json_agg(json_build_object('sku', i.sku, 'quantity', i.quantity, 'unit_price_cents', i.unit_price_cents) ORDER BY i.line_no)
                   FROM order_items i WHERE i.order_id = o.id), '[]'::json) AS items
  FROM orders o`;

export interface CreateResult {
  status: number;
  order: OrderView;
  replayed: boolean;
}

export class OrdersService {
  constructor(
    private readonly sql: Sql,
    private readonly products: ProductsService,
    private readonly writer: OrderWriter,
    private readonly outbox: OutboxSignal,
    private readonly idempotencyTtlSeconds: number,
    private readonly cache: OrderCache,
    /** Tells other instances an order changed (best effort; their TTL bounds staleness without it). */
    private readonly announce: (id: string, version: number) => void = () => {},
  ) {
    this.reader = new CoalescingReader<OrderRow>(sql, ORDER_SELECT);
  }

  private readonly reader: CoalescingReader<OrderRow>;

  /** Prices lines from the catalogue; refuses duplicates, unknown or withdrawn products, mixed currencies. */
  private async price(items: { sku: string; quantity: number }[]): Promise<{ lines: Line[]; currency: string; total: number }> {
    const skus = items.map((i) => i.sku);
    const duplicates = [...new Set(skus.filter((s, i) => skus.indexOf(s) !== i))];
    if (duplicates.length > 0) {
      throw new DomainError(
        'unprocessable',
        'ORDERS_DUPLICATE_SKU',
        'Duplicate order line',
        `Each SKU may appear once; repeated: ${duplicates.join(', ')}.`,
      );
    }
    const prices = await this.products.prices(skus);
    const unknown = skus.filter((s) => !prices.get(s)?.active);
    if (unknown.length > 0) {
      throw new DomainError('unprocessable', 'ORDERS_UNKNOWN_SKU', 'Unknown product', `Not sold here: ${unknown.join(', ')}.`, {
        skus: unknown,
      });
    }
    const currencies = new Set(skus.map((s) => prices.get(s)?.currency));
    if (currencies.size > 1) {
      throw new DomainError(
        'unprocessable',
        'ORDERS_MIXED_CURRENCY',
        'Mixed currencies',
        'All products of one order must be priced in the same currency.',
      );
    }
    const lines = items.map((item, i) => ({
      line_no: i + 1,
      sku: item.sku,
      quantity: item.quantity,
      unit_price_cents: prices.get(item.sku)?.priceCents ?? 0,
    }));
    const total = lines.reduce((sum, l) => sum + l.quantity * l.unit_price_cents, 0);
    if (!Number.isSafeInteger(total))
      throw new DomainError('unprocessable', 'ORDERS_TOTAL_TOO_LARGE', 'Order total too large', 'The order total is out of range.');
    return { lines, currency: [...currencies][0] ?? 'EUR', total };
  }

  async create(principal: Principal, body: CreateOrderBody, idempotencyKey?: string, trace?: string): Promise<CreateResult> {
    const hash = idempotencyKey ? requestHash(body) : null;
    // A new key is the common case: the writer finds out in the same statement that writes the order
    // whether the key was used before (`key_exists`), so no lookup runs ahead of it. Only when the order
    // cannot be priced (a product withdrawn since the first request, say) is the stored answer looked up
    // first: a replay answers as the first request did, whatever the catalogue says now.
    let priced: Awaited<ReturnType<OrdersService['price']>>;
    try {
      priced = await this.price(body.items);
    } catch (err) {
      const replay = idempotencyKey && hash ? await findReplay(this.sql, principal.userId, idempotencyKey, hash) : undefined;
      if (replay) return { status: replay.status, order: replay.body, replayed: true };
      throw err;
    }
    const { lines, currency, total } = priced;
    const orderId = Bun.randomUUIDv7();
    const eventId = Bun.randomUUIDv7();
    const now = new Date();
    const event: OrderPlaced = {
      eventId,
      occurredAt: now.getTime(),
      orderId,
      userId: principal.userId,
      currency,
      totalCents: total,
      items: lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPriceCents: l.unit_price_cents })),
      paymentMethodToken: body.paymentMethodToken ?? null,
    };
    const view = toView({
      id: orderId,
      user_id: principal.userId,
      status: 'pending',
      status_reason: null,
      currency,
      total_cents: total,
      version: 1,
      revision: 1,
      created_at: now,
      updated_at: now,
      items: lines,
    });
    const draft: OrderDraft = {
      order: {
        id: orderId,
        user_id: principal.userId,
        status: 'pending',
        currency,
        total_cents: total,
        payment_method_token: body.paymentMethodToken ?? null,
        version: 1,
        revision: 1,
        created_at: now,
        updated_at: now,
      },
      items: lines.map((l) => ({ ...l, order_id: orderId })),
      outbox: { event_id: eventId, event_type: Events.OrderPlaced, aggregate_id: orderId, payload: event, headers: traceHeaders(trace) },
      view,
      idempotency:
        idempotencyKey && hash
          ? { key: idempotencyKey, requestHash: hash, expiresAt: new Date(now.getTime() + this.idempotencyTtlSeconds * 1000) }
          : null,
    };
    for (let attempt = 0; ; attempt++) {
      let result: Awaited<ReturnType<OrderWriter['write']>>;
      try {
        result = await this.writer.write(draft);
      } catch (err) {
        if (err instanceof WriterBusy) {
          throw new DomainError(
            'unavailable',
            'ORDERS_BUSY',
            'Too busy',
            'Orders are arriving faster than they can be written; retry shortly.',
            {
              headers: { 'retry-after': '1' },
            },
          );
        }
        const constraint = (err as { constraint_name?: string }).constraint_name;
        if (
          pgErrorCode(err) === PgErrorCodes.foreignKeyViolation &&
          (constraint === 'orders_user_id_fkey' || constraint === 'idempotency_keys_user_id_fkey')
        ) {
          throw new DomainError('unauthenticated', 'AUTH_UNKNOWN_USER', 'Unknown user', 'The account behind this token does not exist.');
        }
        throw err;
      }
      if (result.kind === 'written') {
        this.outbox.wake();
        this.cache.set(view);
        return { status: 201, order: view, replayed: false };
      }
      if (result.kind === 'in_flight') throw keyInFlight();
      // key_exists: a request with this key committed meanwhile; answer as it did.
      const replay = await findReplay(this.sql, principal.userId, idempotencyKey ?? '', hash ?? Buffer.alloc(0));
      if (replay) return { status: replay.status, order: replay.body, replayed: true };
      if (attempt > 0) throw keyMismatch();
      // The record that blocked us has expired but was not cleaned up yet: remove it and write again.
      await this
        .sql`DELETE FROM idempotency_keys WHERE user_id = ${principal.userId} AND key = ${idempotencyKey ?? ''} AND expires_at <= now()`;
    }
  }

  /**
   * After a committed change: its event goes out, this instance serves the new view, the others drop
   * theirs.
   */
  private committed(view: OrderView): void {
    this.outbox.wake();
    this.cache.invalidate(view.id, view.version);
    this.cache.set(view);
    this.announce(view.id, view.version);
  }

  private ownerFilter(principal: Principal, sql: Sql = this.sql) {
    return principal.role === 'admin' ? sql`` : sql`AND o.user_id = ${principal.userId}`;
  }

  /**
   * One order, if the principal may see it. Another customer's order is indistinguishable from none.
   * Served from the read cache unless `fresh` (Cache-Control: no-cache).
   */
  async get(principal: Principal, id: string, fresh = false): Promise<OrderView> {
    const mayRead = (v: OrderView) => principal.role === 'admin' || v.userId === principal.userId;
    if (!fresh) {
      const cached = this.cache.get(id);
      if (cached) {
        if (!mayRead(cached)) throw notFound(id);
        return cached;
      }
    }
    const started = Date.now();
    const row = await this.reader.read(id);
    if (!row) throw notFound(id);
    const view = toView(row);
    this.cache.set(view, started);
    if (!mayRead(view)) throw notFound(id);
    return view;
  }

  /** Newest first, keyset-paginated: stable under concurrent inserts, constant cost per page. */
  async list(principal: Principal, q: AdminListOrdersQuery, scope: 'own' | 'all'): Promise<OrderPage> {
    const limit = q.limit ?? 20;
    const cursor = q.cursor ? decodeCursor(q.cursor) : undefined;
    const statuses = q.status ? q.status.split(',') : undefined;
    const userId = scope === 'own' ? principal.userId : q.userId;
    const rows = await this.sql<OrderRow[]>`
      ${this.sql.unsafe(ORDER_SELECT)}
      WHERE TRUE
        ${userId ? this.sql`AND o.user_id = ${userId}` : this.sql``}
        ${statuses ? this.sql`AND o.status IN ${this.sql(statuses)}` : this.sql``}
        ${q.createdFrom ? this.sql`AND o.created_at >= ${new Date(q.createdFrom)}` : this.sql``}
        ${q.createdTo ? this.sql`AND o.created_at < ${new Date(q.createdTo)}` : this.sql``}
        ${cursor ? this.sql`AND (o.created_at, o.id) < (${cursor.createdAt}, ${cursor.id})` : this.sql``}
      ORDER BY o.created_at DESC, o.id DESC
      LIMIT ${limit + 1}`;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(toView), nextCursor: rows.length > limit && last ? encodeCursor(last.created_at, last.id) : null };
  }

  async history(principal: Principal, id: string): Promise<HistoryView> {
    const rows = await this.sql<
      { from_status: OrderStatus | null; to_status: OrderStatus; reason: string | null; version: number; occurred_at: Date }[]
    >`
      SELECT h.from_status, h.to_status, h.reason, h.version, h.occurred_at
      FROM orders o JOIN order_status_history h ON h.order_id = o.id
      WHERE o.id = ${id} ${this.ownerFilter(principal)}
      ORDER BY h.id`;
    if (rows.length === 0) throw notFound(id);
    return {
      orderId: id,
      entries: rows.map((r) => ({
        fromStatus: r.from_status,
        toStatus: r.to_status,
        reason: r.reason,
        version: r.version,
        occurredAt: r.occurred_at.toISOString(),
      })),
    };
  }

  /**
   * Locks the order for a change, checking ownership and (when given) the version the caller read.
   * FOR UPDATE, the one lock mode that waits for fulfillment's FOR KEY SHARE: a cancellation and a
   * shipment of the same order never both go through (workers/src/stages/fulfillment).
   */
  private async lockForChange(tx: Sql, principal: Principal, id: string, ifMatch: number | undefined): Promise<OrderRow> {
    const [row] = await tx<OrderRow[]>`
      ${tx.unsafe(ORDER_SELECT)} WHERE o.id = ${id} ${this.ownerFilter(principal, tx)}
      FOR UPDATE OF o`;
    if (!row) throw notFound(id);
    if (ifMatch !== undefined && ifMatch !== row.version) {
      throw new DomainError(
        'precondition_failed',
        'ORDERS_VERSION_MISMATCH',
        'Order changed',
        `The order is at version ${row.version}, not ${ifMatch}; read it again.`,
        {
          headers: { etag: `"${row.version}"` },
        },
      );
    }
    return row;
  }

  /** Changes lines or payment method while the order is still pending; needs the version (If-Match). */
  async update(principal: Principal, id: string, ifMatch: number, body: UpdateOrderBody, trace?: string): Promise<OrderView> {
    const priced = body.items ? await this.price(body.items) : undefined;
    const view = await this.sql.begin(async (tx) => {
      const row = await this.lockForChange(tx as unknown as Sql, principal, id, ifMatch);
      if (row.status !== 'pending') {
        throw new DomainError(
          'conflict',
          'ORDERS_NOT_CHANGEABLE',
          'Order can no longer change',
          `The order is ${row.status}; only pending orders can change.`,
        );
      }
      const now = new Date();
      const lines = priced?.lines ?? row.items.map((l, i) => ({ ...l, line_no: i + 1 }));
      const currency = priced?.currency ?? row.currency;
      const total = priced?.total ?? row.total_cents;
      const [tokenRow] = await tx<{ payment_method_token: string | null }[]>`
        UPDATE orders SET
          currency = ${currency}, total_cents = ${total},
          payment_method_token = COALESCE(${body.paymentMethodToken ?? null}, payment_method_token),
          version = version + 1, revision = revision + 1, updated_at = ${now}
        WHERE id = ${id}
        RETURNING payment_method_token`;
      if (priced) {
        await tx`DELETE FROM order_items WHERE order_id = ${id}`;
        await tx`INSERT INTO order_items ${tx(lines.map((l) => ({ ...l, order_id: id })))}`;
      }
      const event: OrderUpdated = {
        eventId: Bun.randomUUIDv7(),
        occurredAt: now.getTime(),
        orderId: id,
        userId: row.user_id,
        revision: row.revision + 1,
        currency,
        totalCents: total,
        items: lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPriceCents: l.unit_price_cents })),
        paymentMethodToken: tokenRow?.payment_method_token ?? null,
      };
      await tx`
        INSERT INTO outbox (event_id, event_type, aggregate_id, payload, headers)
        VALUES (${event.eventId}, ${Events.OrderUpdated}, ${id}, ${tx.json(event as never)}, ${tx.json(traceHeaders(trace))})`;
      return toView({
        ...row,
        currency,
        total_cents: total,
        version: row.version + 1,
        revision: row.revision + 1,
        updated_at: now,
        items: lines,
      });
    });
    this.committed(view);
    return view;
  }

  /**
   * Cancels an order that has not shipped. Applied here, synchronously, so the caller knows at once;
   * the `order.cancelled` event makes the stages compensate (release stock, refund) and the projector
   * announce the change to the browsers.
   */
  async cancel(
    principal: Principal,
    id: string,
    ifMatch: number | undefined,
    reason: string | undefined,
    trace?: string,
  ): Promise<OrderView> {
    const view = await this.sql.begin(async (tx) => {
      const row = await this.lockForChange(tx as unknown as Sql, principal, id, ifMatch);
      // Fulfillment creates the shipment under a lock this one waits for: once it exists the order has
      // shipped, even if the projector has not applied `shipped` to the status yet.
      const [shipment] = await tx`SELECT 1 FROM shipments WHERE order_id = ${id}`;
      if (shipment) row.status = 'shipped';
      if (!CANCELLABLE_STATUSES.includes(row.status)) {
        throw new DomainError(
          'conflict',
          'ORDERS_NOT_CANCELLABLE',
          'Order cannot be cancelled',
          row.status === 'shipped' ? 'The order has shipped.' : `The order is already ${row.status}.`,
        );
      }
      const now = new Date();
      const why =
        reason ??
        (principal.role === 'admin' && principal.userId !== row.user_id ? 'cancelled by an administrator' : 'cancelled by the customer');
      const event: OrderCancelled = {
        eventId: Bun.randomUUIDv7(),
        occurredAt: now.getTime(),
        orderId: id,
        userId: row.user_id,
        reason: why,
        cancelledBy: principal.userId,
        previousStatus: row.status,
      };
      await tx`
        UPDATE orders SET status = 'cancelled', status_reason = ${why}, version = version + 1, updated_at = ${now} WHERE id = ${id}`;
      if (principal.role === 'admin' && principal.userId !== row.user_id)
        await recordAdminAction(tx as unknown as Sql, principal.userId, 'order.cancelled', id, { reason: why, previousStatus: row.status });
      await tx`
        INSERT INTO order_status_history (order_id, from_status, to_status, reason, version, event_id, occurred_at)
        VALUES (${id}, ${row.status}, 'cancelled', ${why}, ${row.version + 1}, ${event.eventId}, ${now})`;
      await tx`
        INSERT INTO outbox (event_id, event_type, aggregate_id, payload, headers)
        VALUES (${event.eventId}, ${Events.OrderCancelled}, ${id}, ${tx.json(event as never)}, ${tx.json(traceHeaders(trace))})`;
      return toView({ ...row, status: 'cancelled', status_reason: why, version: row.version + 1, updated_at: now });
    });
    this.committed(view);
    return view;
  }
}

function toView(o: Omit<OrderRow, 'items'> & { items: { sku: string; quantity: number; unit_price_cents: number }[] }): OrderView {
  return {
    id: o.id,
    userId: o.user_id,
    status: o.status,
    statusReason: o.status_reason,
    currency: o.currency,
    totalCents: o.total_cents,
    items: o.items.map((i) => ({
      sku: i.sku,
      quantity: i.quantity,
      unitPriceCents: i.unit_price_cents,
      lineTotalCents: i.quantity * i.unit_price_cents,
    })),
    version: o.version,
    createdAt: new Date(o.created_at).toISOString(),
    updatedAt: new Date(o.updated_at).toISOString(),
  };
}
