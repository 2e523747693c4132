/**
 * Reading orders: one order (from the read cache, or coalesced reads of PostgreSQL), a keyset-paginated
 * list, and an order's status history. Customers only ever reach their own orders.
 */
import type { OrderStatus } from '@orders/contracts';
import type { Principal, Sql } from '@orders/platform';
import type { OrderCache } from './cache';
import { orderNotFound } from './errors';
import type { AdminListOrdersQuery, HistoryView, OrderPage, OrderView } from './model';
import { decodeCursor, encodeCursor } from './pagination';
import { CoalescingReader } from './reader';
import { ORDER_SELECT, type OrderRow, ownerFilter, toView } from './rows';

export class OrderQueries {
  private readonly reader: CoalescingReader<OrderRow>;

  constructor(
    private readonly sql: Sql,
    private readonly cache: OrderCache,
  ) {
    this.reader = new CoalescingReader<OrderRow>(sql, ORDER_SELECT);
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
        if (!mayRead(cached)) throw orderNotFound(id);
        return cached;
      }
    }
    const started = Date.now();
    const row = await this.reader.read(id);
    if (!row) throw orderNotFound(id);
    const view = toView(row);
    this.cache.set(view, started);
    if (!mayRead(view)) throw orderNotFound(id);
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
      WHERE o.id = ${id} ${ownerFilter(this.sql, principal)}
      ORDER BY h.id`;
    if (rows.length === 0) throw orderNotFound(id);
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
}
