/**
 * fulfillment: `stock.reserved` → the shipment (carrier, tracking number) → `order.shipped`.
 *
 * Shipping and cancelling race for the same order: both lock the order row, so one of them sees the
 * other's result. Fulfillment skips a cancelled order (inventory releases its stock); the gateway refuses
 * to cancel an order that has a shipment.
 */
import { randomBytes } from 'node:crypto';
import { ConsumerGroups, Events, Topics } from '@orders/contracts';
import { event, PermanentError, type Stage } from '../../runtime/stage';

const CARRIERS = ['DHL', 'UPS', 'PostNL', 'La Poste'] as const;

export const fulfillmentStage: Stage = {
  name: 'fulfillment',
  group: ConsumerGroups.fulfillment,
  topics: [Topics.orderEvents],
  handles: [Events.StockReserved],
  async handle(e, { tx, newId }) {
    const { orderId, userId } = e.payload;
    const [order] = await tx<{ status: string }[]>`SELECT status FROM orders WHERE id = ${orderId} FOR UPDATE`;
    if (!order) throw new PermanentError('FULFILLMENT_UNKNOWN_ORDER', `order ${orderId} does not exist`);
    if (order.status === 'cancelled') return [];
    const shipmentId = newId();
    const carrier = CARRIERS[(randomBytes(1)[0] ?? 0) % CARRIERS.length] as string;
    const trackingNumber = `${carrier.replace(/\W/g, '').slice(0, 3).toUpperCase()}${randomBytes(6).toString('hex').toUpperCase()}`;
    const inserted = await tx`
      INSERT INTO shipments (id, order_id, carrier, tracking_number) VALUES (${shipmentId}, ${orderId}, ${carrier}, ${trackingNumber})
      ON CONFLICT (order_id) DO NOTHING`;
    if (inserted.count === 0) return [];
    return [
      event(Topics.orderEvents, Events.OrderShipped, orderId, {
        eventId: newId(),
        occurredAt: Date.now(),
        orderId,
        userId,
        shipmentId,
        carrier,
        trackingNumber,
      }),
    ];
  },
};
