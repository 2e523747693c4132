/**
 * inventory: `payment.authorized` → `stock.reserved` | `stock.unavailable`; `order.cancelled` releases a
 * reservation (`stock.released`). A reservation takes every line of the order or none; stock never goes
 * below zero (and the table's CHECK says so too).
 *
 * Set-based, a batch at a time: popular products are the rows every order meets, so they are locked
 * once per batch, in SKU order (two batches never wait on each other in a circle), read, and written
 * back in one statement; between the lock and the commit there are three statements, not three per
 * order. The batch's events are decided in their partition order against the stock as it moves.
 *
 * The order's status is read without a lock: a cancellation's `order.cancelled` event follows on the same
 * partition, so a reservation made just before a cancellation is released when that event arrives.
 */
import { ConsumerGroups, type DecodedEvent, Events, Topics } from '@orders/contracts';
import { WorkerErrorCodes } from '../../error-codes';
import { type BatchStage, event, type Output, PermanentError } from '../../runtime/stage';
import { CompensationReasons } from '../reasons';

interface Line {
  sku: string;
  quantity: number;
}

export const inventoryStage: BatchStage = {
  name: 'inventory',
  group: ConsumerGroups.inventory,
  topics: [Topics.orderEvents],
  handles: [Events.PaymentAuthorized, Events.OrderCancelled],
  async handleBatch(events, { tx, newId }) {
    const orderIds = [...new Set(events.map((e) => e.payload.orderId))];
    const orders = new Map(
      (await tx<{ id: string; status: string }[]>`SELECT id, status FROM orders WHERE id IN ${tx(orderIds)}`).map((o) => [o.id, o.status]),
    );
    const reservations = new Map(
      (
        await tx<{ id: string; order_id: string; status: string; lines: Line[] }[]>`
          SELECT id, order_id, status, lines FROM reservations WHERE order_id IN ${tx(orderIds)}`
      ).map((r) => [r.order_id, r]),
    );
    const authorized = events.filter((e) => e.type === Events.PaymentAuthorized).map((e) => e.payload.orderId);
    const linesOf = new Map<string, Line[]>();
    if (authorized.length > 0) {
      const rows = await tx<(Line & { order_id: string })[]>`
        SELECT order_id, sku, quantity FROM order_items WHERE order_id IN ${tx(authorized)} ORDER BY order_id, sku`;
      for (const r of rows) {
        const list = linesOf.get(r.order_id) ?? [];
        list.push({ sku: r.sku, quantity: r.quantity });
        linesOf.set(r.order_id, list);
      }
    }
    const skus = [
      ...new Set(
        [...[...linesOf.values()].flat(), ...[...reservations.values()].flatMap((r) => (r.status === 'reserved' ? r.lines : []))].map(
          (l) => l.sku,
        ),
      ),
    ].sort();
    const stock = new Map<string, number>();
    if (skus.length > 0) {
      const rows = await tx<
        { sku: string; stock: number }[]
      >`SELECT sku, stock FROM products WHERE sku IN ${tx(skus)} ORDER BY sku FOR NO KEY UPDATE`;
      for (const r of rows) stock.set(r.sku, r.stock);
    }
    const before = new Map(stock);
    // New reservations (written as they end the batch: one reserved and released here is written as
    // released), and the ids of earlier ones released now.
    const reserve: { id: string; order_id: string; lines: Line[]; status: string }[] = [];
    const release: string[] = [];

    const outputs = events.map((e: DecodedEvent): Output[] => {
      const { orderId, userId } = e.payload;
      const base = () => ({ eventId: newId(), occurredAt: Date.now(), orderId, userId });
      const existing = reservations.get(orderId);
      if (e.type === Events.PaymentAuthorized) {
        const status = orders.get(orderId);
        if (status === undefined) throw new PermanentError(WorkerErrorCodes.inventoryUnknownOrder, `order ${orderId} does not exist`);
        // Cancelled meanwhile: take nothing (the payment stage refunds); reserved already: a redelivery.
        if (status === 'cancelled' || existing) return [];
        const lines = linesOf.get(orderId) ?? [];
        const short = lines.filter((l) => (stock.get(l.sku) ?? 0) < l.quantity).map((l) => l.sku);
        if (short.length > 0) return [event(Topics.orderEvents, Events.StockUnavailable, orderId, { ...base(), skus: short })];
        for (const l of lines) stock.set(l.sku, (stock.get(l.sku) ?? 0) - l.quantity);
        const reservation = { id: newId(), order_id: orderId, lines, status: 'reserved' };
        reserve.push(reservation);
        reservations.set(orderId, reservation);
        return [event(Topics.orderEvents, Events.StockReserved, orderId, { ...base(), reservationId: reservation.id })];
      }
      // order.cancelled: give back what was reserved, once.
      if (!existing || existing.status !== 'reserved') return [];
      for (const l of existing.lines) stock.set(l.sku, (stock.get(l.sku) ?? 0) + l.quantity);
      existing.status = 'released';
      if (!reserve.includes(existing)) release.push(existing.id);
      return [
        event(Topics.orderEvents, Events.StockReleased, orderId, {
          ...base(),
          reservationId: existing.id,
          reason: CompensationReasons.orderCancelled,
        }),
      ];
    });

    const changed = [...stock].filter(([sku, n]) => before.get(sku) !== n);
    if (changed.length > 0) {
      await tx`
        UPDATE products p SET stock = c.stock, updated_at = now()
        FROM unnest(${changed.map(([sku]) => sku)}::text[], ${changed.map(([, n]) => n)}::int[]) AS c(sku, stock)
        WHERE p.sku = c.sku`;
    }
    if (reserve.length > 0) {
      await tx`
        INSERT INTO reservations (id, order_id, lines, status, released_at, release_reason)
        SELECT r.id, r.order_id, r.lines, r.status, CASE WHEN r.status = 'released' THEN now() END,
               CASE WHEN r.status = 'released' THEN ${CompensationReasons.orderCancelled}::text END
        FROM jsonb_to_recordset(${tx.json(reserve as never)}::jsonb)
          AS r(id uuid, order_id uuid, lines jsonb, status text)`;
    }
    if (release.length > 0) {
      await tx`
        UPDATE reservations SET status = 'released', released_at = now(), release_reason = ${CompensationReasons.orderCancelled}
        WHERE id IN ${tx(release)} AND status = 'reserved'`;
    }
    return outputs;
  },
};
