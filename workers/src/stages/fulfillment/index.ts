/**
 * fulfillment: `stock.reserved` → the shipment (carrier, tracking number) → `order.shipped`.
 *
 * Shipping and cancelling race for the same order: both lock the order row, so one of them sees the
 * other's result. Fulfillment skips a cancelled order (inventory releases its stock); the gateway refuses
 * to cancel an order that has a shipment. Fulfillment's lock is FOR KEY SHARE, which only the gateway's
 * FOR UPDATE waits for: the status projector's row locks (FOR NO KEY UPDATE, on the same orders, all
 * the time) neither wait for it nor hold it up. Only the gateway cancels, so no concurrent change the
 * projector makes can turn an order cancelled under it. Set-based: the batch's orders are locked in id
 * order for two statements, and its shipments written in one.
 */
import { randomBytes } from 'node:crypto';
import { ConsumerGroups, Events, Topics } from '@orders/contracts';
import { WorkerErrorCodes } from '../../error-codes';
import { type BatchStage, event, type Output, PermanentError } from '../../runtime/stage';

const CARRIERS = ['DHL', 'UPS', 'PostNL', 'La Poste'] as const;

export const fulfillmentStage: BatchStage = {
  name: 'fulfillment',
  group: ConsumerGroups.fulfillment,
  topics: [Topics.orderEvents],
  handles: [Events.StockReserved],
  async handleBatch(events, { tx, newId }) {
    const ids = [...new Set(events.map((e) => e.payload.orderId))].sort();
    const status = new Map(
      (await tx<{ id: string; status: string }[]>`SELECT id, status FROM orders WHERE id IN ${tx(ids)} ORDER BY id FOR KEY SHARE`).map(
        (o) => [o.id, o.status],
      ),
    );
    const planned = new Map<string, { id: string; order_id: string; carrier: string; tracking_number: string; userId: string }>();
    for (const e of events) {
      const { orderId, userId } = e.payload;
      const s = status.get(orderId);
      if (s === undefined) throw new PermanentError(WorkerErrorCodes.fulfillmentUnknownOrder, `order ${orderId} does not exist`);
      if (s === 'cancelled' || planned.has(orderId)) continue;
      const carrier = CARRIERS[(randomBytes(1)[0] ?? 0) % CARRIERS.length] as string;
      const trackingNumber = `${carrier.replace(/\W/g, '').slice(0, 3).toUpperCase()}${randomBytes(6).toString('hex').toUpperCase()}`;
      planned.set(orderId, { id: newId(), order_id: orderId, carrier, tracking_number: trackingNumber, userId });
    }
    if (planned.size === 0) return events.map(() => []);
    // An order shipped by an earlier delivery keeps its shipment: no second one, no second event.
    const created = await tx<{ order_id: string }[]>`
      INSERT INTO shipments (id, order_id, carrier, tracking_number)
      SELECT s.id, s.order_id, s.carrier, s.tracking_number
      FROM jsonb_to_recordset(${tx.json([...planned.values()] as never)}::jsonb) AS s(id uuid, order_id uuid, carrier text, tracking_number text)
      ON CONFLICT (order_id) DO NOTHING
      RETURNING order_id`;
    const shipped = new Set(created.map((c) => c.order_id));
    return events.map((e): Output[] => {
      const s = planned.get(e.payload.orderId);
      if (!s || !shipped.delete(s.order_id)) return [];
      return [
        event(Topics.orderEvents, Events.OrderShipped, s.order_id, {
          eventId: newId(),
          occurredAt: Date.now(),
          orderId: s.order_id,
          userId: s.userId,
          shipmentId: s.id,
          carrier: s.carrier,
          trackingNumber: s.tracking_number,
        }),
      ];
    });
  },
};
