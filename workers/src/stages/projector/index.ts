/**
 * status projector: applies every status-changing event to the order (status, reason, version) and its
 * history, refusing illegal transitions with the state machine from contracts/, then hands the change
 * to the browsers (Redis feed) and to downstream consumers (`order.status_changed` on orders.status).
 *
 * Events that arrive for an order already past them (a late `order.validated` after a cancellation)
 * are recorded as processed and change nothing: the state machine is the referee, not arrival order.
 * A verdict on an outdated revision (the customer changed the order since) changes nothing either.
 *
 * Some changes are applied synchronously by the gateway (a customer's cancellation), in the same
 * transaction as their event and a history row carrying that event's id. For those the projector only
 * announces the change (feed and `order.status_changed`), it does not apply it twice.
 */
import {
  ConsumerGroups,
  canTransition,
  Events,
  type EventType,
  isOrderStatus,
  type OrderStatus,
  STATUS_BY_EVENT,
  Topics,
} from '@orders/contracts';
import { event, type Output, PermanentError, type Stage } from '../../runtime/stage';

const STATUS_EVENTS = Object.keys(STATUS_BY_EVENT) as EventType[];

/** The reason recorded with a status, for the events that carry one. */
function reasonOf(e: { type: EventType; payload: unknown }): string | null {
  const p = e.payload as { reason?: string; code?: string; skus?: string[] };
  if (e.type === Events.StockUnavailable) return `out of stock: ${(p.skus ?? []).join(', ')}`;
  if (p.code && p.reason) return `${p.code}: ${p.reason}`;
  return p.reason ?? null;
}

export const projectorStage: Stage = {
  name: 'projector',
  group: ConsumerGroups.projector,
  topics: [Topics.orderEvents],
  handles: STATUS_EVENTS,
  async handle(e, { tx, newId, logger }) {
    const target = STATUS_BY_EVENT[e.type];
    if (!target) return [];
    const { orderId } = e.payload;
    const [order] = await tx<{ status: string; version: number; revision: number; user_id: string }[]>`
      SELECT status, version, revision, user_id FROM orders WHERE id = ${orderId} FOR UPDATE`;
    if (!order) throw new PermanentError('PROJECTOR_UNKNOWN_ORDER', `order ${orderId} does not exist`);
    if (!isOrderStatus(order.status)) throw new PermanentError('PROJECTOR_BAD_STATUS', `order ${orderId} has status ${order.status}`);
    const [applied] = await tx<{ from_status: OrderStatus | null; reason: string | null; version: number; occurred_at: Date }[]>`
      SELECT from_status, reason, version, occurred_at FROM order_status_history
      WHERE order_id = ${orderId} AND event_id = ${e.payload.eventId}`;
    let from: OrderStatus;
    let reason: string | null;
    let version: number;
    let now: Date;
    if (applied) {
      // Applied by the gateway with this event: announce it only.
      from = applied.from_status ?? order.status;
      reason = applied.reason;
      version = applied.version;
      now = applied.occurred_at;
    } else {
      from = order.status;
      const judged = (e.payload as { revision?: number | null }).revision;
      if (typeof judged === 'number' && judged !== order.revision) {
        logger.info({ orderId, judged, revision: order.revision, eventType: e.type }, 'verdict on an outdated revision; ignored');
        return [];
      }
      if (!canTransition(from, target)) {
        logger.info({ orderId, from, to: target, eventType: e.type }, 'status change not applicable; ignored');
        return [];
      }
      reason = reasonOf(e);
      version = order.version + 1;
      now = new Date();
      await tx`
        UPDATE orders SET status = ${target}, status_reason = ${reason}, version = ${version}, updated_at = ${now}
        WHERE id = ${orderId}`;
      await tx`
        INSERT INTO order_status_history (order_id, from_status, to_status, reason, version, event_id, occurred_at)
        VALUES (${orderId}, ${from}, ${target}, ${reason}, ${version}, ${e.payload.eventId}, ${now})`;
    }
    const [user] = await tx<{ feed_seq: number }[]>`
      UPDATE users SET feed_seq = feed_seq + 1 WHERE id = ${order.user_id} RETURNING feed_seq`;
    if (!user) throw new PermanentError('PROJECTOR_UNKNOWN_USER', `user ${order.user_id} does not exist`);
    const outputs: Output[] = [
      {
        kind: 'feed',
        update: {
          type: 'order.status',
          seq: user.feed_seq,
          userId: order.user_id,
          orderId,
          status: target,
          previousStatus: from,
          version,
          reason,
          occurredAt: now.getTime(),
          eventId: e.payload.eventId,
        },
      },
      event(Topics.orderStatus, Events.OrderStatusChanged, orderId, {
        eventId: newId(),
        occurredAt: now.getTime(),
        orderId,
        userId: order.user_id,
        fromStatus: from,
        toStatus: target,
        version,
        reason,
        causationEventId: e.payload.eventId,
        causationType: e.type,
      }),
    ];
    return outputs;
  },
};
