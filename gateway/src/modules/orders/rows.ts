/**
 * An order as PostgreSQL holds it and as the API shows it: the row (with its lines, read in one round
 * trip), the view answered to clients, and the owner rule every read and change applies (another
 * customer's order is indistinguishable from none).
 */
import type { OrderStatus } from '@orders/contracts';
import type { Principal, Sql } from '@orders/platform';
import type { OrderView } from './model';

export interface OrderRow {
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

/** Orders with their lines in one round trip. */
export const ORDER_SELECT = `
  SELECT o.id, o.user_id, o.status, o.status_reason, o.currency, o.total_cents, o.version, o.revision, o.created_at, o.updated_at,
         COALESCE((SELECT json_agg(json_build_object('sku', i.sku, 'quantity', i.quantity, 'unit_price_cents', i.unit_price_cents) ORDER BY i.line_no)
                   FROM order_items i WHERE i.order_id = o.id), '[]'::json) AS items
  FROM orders o`;

/** The SQL condition that keeps a customer to their own orders (`o` is the orders table); admins see all. */
export function ownerFilter(sql: Sql, principal: Principal) {
  return principal.role === 'admin' ? sql`` : sql`AND o.user_id = ${principal.userId}`;
}

export function toView(o: Omit<OrderRow, 'items'> & { items: { sku: string; quantity: number; unit_price_cents: number }[] }): OrderView {
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
