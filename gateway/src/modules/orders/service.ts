/**
 * Orders: placing and reading them. Prices and totals are computed here from `products`, never taken
 * from the client. An order, its lines, its first history entry and its `order.placed` outbox row are
 * written in one transaction: an acknowledged order always has its event, and a failed one leaves
 * nothing behind.
 */
import { Events, type OrderPlaced, type OrderStatus } from '@orders/contracts';
import { PgErrorCodes, type Principal, pgErrorCode, type Sql } from '@orders/platform';
import { DomainError } from '../../errors';
import type { CreateOrderBody, OrderView } from './model';

interface ProductRow {
  sku: string;
  price_cents: number;
  currency: string;
}

interface OrderRow {
  id: string;
  user_id: string;
  status: OrderStatus;
  status_reason: string | null;
  currency: string;
  total_cents: number;
  version: number;
  created_at: Date;
  updated_at: Date;
}

interface ItemRow {
  sku: string;
  quantity: number;
  unit_price_cents: number;
}

export interface OutboxSignal {
  /** Tells the publisher that new rows were committed. */
  wake(): void;
}

export class OrdersService {
  constructor(
    private readonly sql: Sql,
    private readonly outbox: OutboxSignal,
  ) {}

  async create(principal: Principal, body: CreateOrderBody): Promise<OrderView> {
    const skus = body.items.map((i) => i.sku);
    const duplicates = skus.filter((s, i) => skus.indexOf(s) !== i);
    if (duplicates.length > 0) {
      throw new DomainError(
        'unprocessable',
        'ORDERS_DUPLICATE_SKU',
        'Duplicate order line',
        `Each SKU may appear once; repeated: ${[...new Set(duplicates)].join(', ')}.`,
      );
    }
    const products = await this.sql<ProductRow[]>`
      SELECT sku, price_cents, currency FROM products WHERE sku IN ${this.sql(skus)} AND active`;
    const bySku = new Map(products.map((p) => [p.sku, p]));
    const unknown = skus.filter((s) => !bySku.has(s));
    if (unknown.length > 0) {
      throw new DomainError('unprocessable', 'ORDERS_UNKNOWN_SKU', 'Unknown product', `Not sold here: ${unknown.join(', ')}.`, {
        skus: unknown,
      });
    }
    const currencies = new Set(products.map((p) => p.currency));
    if (currencies.size > 1) {
      throw new DomainError(
        'unprocessable',
        'ORDERS_MIXED_CURRENCY',
        'Mixed currencies',
        'All products of one order must be priced in the same currency.',
      );
    }
    const currency = products[0]?.currency ?? 'EUR';
    const lines = body.items.map((item, i) => ({
      line_no: i + 1,
      sku: item.sku,
      quantity: item.quantity,
      unit_price_cents: (bySku.get(item.sku) as ProductRow).price_cents,
    }));
    const total = lines.reduce((sum, l) => sum + l.quantity * l.unit_price_cents, 0);
    if (!Number.isSafeInteger(total))
      throw new DomainError('unprocessable', 'ORDERS_TOTAL_TOO_LARGE', 'Order total too large', 'The order total is out of range.');

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
    try {
      await this.sql.begin(async (tx) => {
        await tx`
          INSERT INTO orders (id, user_id, status, currency, total_cents, payment_method_token, version, created_at, updated_at)
          VALUES (${orderId}, ${principal.userId}, 'pending', ${currency}, ${total}, ${body.paymentMethodToken ?? null}, 1, ${now}, ${now})`;
        await tx`INSERT INTO order_items ${tx(lines.map((l) => ({ ...l, order_id: orderId })))}`;
        await tx`
          INSERT INTO order_status_history (order_id, from_status, to_status, version, occurred_at)
          VALUES (${orderId}, NULL, 'pending', 1, ${now})`;
        await tx`
          INSERT INTO outbox (event_id, event_type, aggregate_id, payload)
          VALUES (${eventId}, ${Events.OrderPlaced}, ${orderId}, ${tx.json(event as never)})`;
      });
    } catch (err) {
      if (pgErrorCode(err) === PgErrorCodes.foreignKeyViolation && String((err as Error).message).includes('user')) {
        throw new DomainError('unauthenticated', 'AUTH_UNKNOWN_USER', 'Unknown user', 'The account behind this token does not exist.');
      }
      throw err;
    }
    this.outbox.wake();
    return {
      id: orderId,
      userId: principal.userId,
      status: 'pending',
      statusReason: null,
      currency,
      totalCents: total,
      items: lines.map((l) => ({
        sku: l.sku,
        quantity: l.quantity,
        unitPriceCents: l.unit_price_cents,
        lineTotalCents: l.quantity * l.unit_price_cents,
      })),
      version: 1,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
  }

  /** One order, if the principal may see it. Another customer's order is indistinguishable from none. */
  async get(principal: Principal, id: string): Promise<OrderView> {
    const [order] = await this.sql<OrderRow[]>`
      SELECT id, user_id, status, status_reason, currency, total_cents, version, created_at, updated_at
      FROM orders
      WHERE id = ${id} ${principal.role === 'admin' ? this.sql`` : this.sql`AND user_id = ${principal.userId}`}`;
    if (!order) throw new DomainError('not_found', 'ORDERS_NOT_FOUND', 'Order not found', `No order ${id}.`);
    const items = await this.sql<ItemRow[]>`
      SELECT sku, quantity, unit_price_cents FROM order_items WHERE order_id = ${id} ORDER BY line_no`;
    return toView(order, items);
  }
}

function toView(o: OrderRow, items: ItemRow[]): OrderView {
  return {
    id: o.id,
    userId: o.user_id,
    status: o.status,
    statusReason: o.status_reason,
    currency: o.currency,
    totalCents: o.total_cents,
    items: items.map((i) => ({
      sku: i.sku,
      quantity: i.quantity,
      unitPriceCents: i.unit_price_cents,
      lineTotalCents: i.quantity * i.unit_price_cents,
    })),
    version: o.version,
    createdAt: o.created_at.toISOString(),
    updatedAt: o.updated_at.toISOString(),
  };
}
