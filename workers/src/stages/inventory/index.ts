/**
 * inventory: `payment.authorized` → `stock.reserved` | `stock.unavailable`; `order.cancelled` releases a
 * reservation (`stock.released`). A reservation takes every line at once in one statement that never
 * lets stock go below zero (`stock >= quantity` in the same UPDATE, under concurrency too); if any line
 * is short, nothing is taken (a savepoint undoes the others) and the payment stage refunds.
 */
import { ConsumerGroups, Events, Topics } from '@orders/contracts';
import { event, type Output, PermanentError, type Stage } from '../../runtime/stage';

interface Line {
  sku: string;
  quantity: number;
}

export const inventoryStage: Stage = {
  name: 'inventory',
  group: ConsumerGroups.inventory,
  topics: [Topics.orderEvents],
  handles: [Events.PaymentAuthorized, Events.OrderCancelled],
  async handle(e, { tx, newId }) {
    const { orderId, userId } = e.payload;
    const base = () => ({ eventId: newId(), occurredAt: Date.now(), orderId, userId });
    const out: Output[] = [];
    if (e.type === Events.PaymentAuthorized) {
      const [order] = await tx<{ status: string }[]>`SELECT status FROM orders WHERE id = ${orderId} FOR SHARE`;
      if (!order) throw new PermanentError('INVENTORY_UNKNOWN_ORDER', `order ${orderId} does not exist`);
      // Cancelled meanwhile: take nothing (the payment stage refunds); reserved already: a redelivery.
      if (order.status === 'cancelled') return out;
      const [existing] = await tx`SELECT 1 FROM reservations WHERE order_id = ${orderId}`;
      if (existing) return out;
      const lines = await tx<Line[]>`SELECT sku, quantity FROM order_items WHERE order_id = ${orderId} ORDER BY sku`;
      const short = await tx
        .savepoint(async (sp) => {
          const taken = await sp<{ sku: string }[]>`
          UPDATE products p SET stock = p.stock - l.quantity, updated_at = now()
          FROM jsonb_to_recordset(${sp.json(lines as never)}::jsonb) AS l(sku text, quantity int)
          WHERE p.sku = l.sku AND p.stock >= l.quantity
          RETURNING p.sku`;
          const got = new Set(taken.map((t) => t.sku));
          const missing = lines.filter((l) => !got.has(l.sku)).map((l) => l.sku);
          // Throwing rolls the savepoint back: no line is taken unless every line is.
          if (missing.length > 0) throw Object.assign(new Error('short'), { missing });
          return [] as string[];
        })
        .catch((err: { missing?: string[] }) => {
          if (err.missing) return err.missing;
          throw err;
        });
      if (short.length > 0) {
        out.push(event(Topics.orderEvents, Events.StockUnavailable, orderId, { ...base(), skus: short }));
        return out;
      }
      const reservationId = newId();
      await tx`INSERT INTO reservations (id, order_id, lines, status) VALUES (${reservationId}, ${orderId}, ${tx.json(lines as never)}, 'reserved')`;
      out.push(event(Topics.orderEvents, Events.StockReserved, orderId, { ...base(), reservationId }));
      return out;
    }
    // order.cancelled: give back what was reserved, once.
    const [r] = await tx<{ id: string; lines: Line[] }[]>`
      UPDATE reservations SET status = 'released', released_at = now(), release_reason = 'order cancelled'
      WHERE order_id = ${orderId} AND status = 'reserved'
      RETURNING id, lines`;
    if (!r) return out;
    await tx`
      UPDATE products p SET stock = p.stock + l.quantity, updated_at = now()
      FROM jsonb_to_recordset(${tx.json(r.lines as never)}::jsonb) AS l(sku text, quantity int)
      WHERE p.sku = l.sku`;
    out.push(event(Topics.orderEvents, Events.StockReleased, orderId, { ...base(), reservationId: r.id, reason: 'order cancelled' }));
    return out;
  },
};
