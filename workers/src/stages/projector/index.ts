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
 *
 * Set-based, a batch at a time, so an order's row is locked for a handful of statements, not for the
 * whole batch: the batch's orders are locked in id order and read at once, the events applied in their
 * partition order in memory, then the orders, their history and the users' feed sequences are written
 * in one statement each. Every other stage that touches an order waits on these locks, so their length
 * is the pipeline's latency under load.
 */
import {
  ConsumerGroups,
  canTransition,
  type DecodedEvent,
  Events,
  type EventType,
  isOrderStatus,
  type OrderStatus,
  STATUS_BY_EVENT,
  Topics,
} from '@orders/contracts';
import { WorkerErrorCodes } from '../../error-codes';
import { type BatchStage, event, type Output, PermanentError } from '../../runtime/stage';
import { CompensationReasons } from '../reasons';

const STATUS_EVENTS = Object.keys(STATUS_BY_EVENT) as EventType[];

/** The reason recorded with a status, for the events that carry one. */
function reasonOf(e: { type: EventType; payload: unknown }): string | null {
  const p = e.payload as { reason?: string; code?: string; skus?: string[] };
  if (e.type === Events.StockUnavailable) return `${CompensationReasons.outOfStock}: ${(p.skus ?? []).join(', ')}`;
  if (p.code && p.reason) return `${p.code}: ${p.reason}`;
  return p.reason ?? null;
}

interface OrderRow {
  id: string;
  status: string;
  version: number;
  revision: number;
  user_id: string;
}

interface Change {
  orderId: string;
  eventId: string;
  from: OrderStatus;
  to: OrderStatus;
  reason: string | null;
  version: number;
  at: Date;
}

export const projectorStage: BatchStage = {
  name: 'projector',
  group: ConsumerGroups.projector,
  topics: [Topics.orderEvents],
  handles: STATUS_EVENTS,
  async handleBatch(events, { tx, newId, logger }) {
    const ids = [...new Set(events.map((e) => e.payload.orderId))].sort();
    const orders = new Map(
      (
        await tx<OrderRow[]>`
          SELECT id, status, version, revision, user_id FROM orders WHERE id IN ${tx(ids)} ORDER BY id FOR NO KEY UPDATE`
      ).map((o) => [o.id, o]),
    );
    // Changes the gateway applied itself (a cancellation), with these events' ids: announce only.
    const applied = new Map(
      (
        await tx<
          {
            event_id: string;
            from_status: OrderStatus | null;
            to_status: OrderStatus;
            reason: string | null;
            version: number;
            occurred_at: Date;
          }[]
        >`
          SELECT event_id, from_status, to_status, reason, version, occurred_at FROM order_status_history
          WHERE order_id IN ${tx(ids)} AND event_id IN ${tx(events.map((e) => e.payload.eventId))}`
      ).map((h) => [h.event_id, h]),
    );
    const changes: Change[] = [];
    const announced: (Change & { userId: string; causation: DecodedEvent })[] = [];
    for (const e of events) {
      const target = STATUS_BY_EVENT[e.type];
      if (!target) continue;
      const { orderId, eventId } = e.payload;
      const order = orders.get(orderId);
      if (!order) throw new PermanentError(WorkerErrorCodes.projectorUnknownOrder, `order ${orderId} does not exist`);
      if (!isOrderStatus(order.status))
        throw new PermanentError(WorkerErrorCodes.projectorBadStatus, `order ${orderId} has status ${order.status}`);
      const done = applied.get(eventId);
      if (done) {
        announced.push({
          orderId,
          eventId,
          from: done.from_status ?? order.status,
          to: target,
          reason: done.reason,
          version: done.version,
          at: done.occurred_at,
          userId: order.user_id,
          causation: e,
        });
        continue;
      }
      const judged = (e.payload as { revision?: number | null }).revision;
      if (typeof judged === 'number' && judged !== order.revision) {
        logger.info({ orderId, judged, revision: order.revision, eventType: e.type }, 'verdict on an outdated revision; ignored');
        continue;
      }
      if (!canTransition(order.status, target)) {
        logger.info({ orderId, from: order.status, to: target, eventType: e.type }, 'status change not applicable; ignored');
        continue;
      }
      const change = { orderId, eventId, from: order.status, to: target, reason: reasonOf(e), version: order.version + 1, at: new Date() };
      order.status = target;
      order.version = change.version;
      changes.push(change);
      announced.push({ ...change, userId: order.user_id, causation: e });
    }

    if (changes.length > 0) {
      // The last change of each order sets its row; every change gets its history line.
      const last = new Map(changes.map((c) => [c.orderId, c]));
      const rows = [...last.values()].map((c) => ({ id: c.orderId, status: c.to, reason: c.reason, version: c.version, at: c.at }));
      await tx`
        UPDATE orders o SET status = r.status, status_reason = r.reason, version = r.version, updated_at = r.at
        FROM jsonb_to_recordset(${tx.json(rows as never)}::jsonb) AS r(id uuid, status text, reason text, version int, at timestamptz)
        WHERE o.id = r.id`;
      await tx`
        INSERT INTO order_status_history (order_id, from_status, to_status, reason, version, event_id, occurred_at)
        SELECT h.order_id, h.from_status, h.to_status, h.reason, h.version, h.event_id, h.occurred_at
        FROM jsonb_to_recordset(${tx.json(changes.map((c) => ({ order_id: c.orderId, from_status: c.from, to_status: c.to, reason: c.reason, version: c.version, event_id: c.eventId, occurred_at: c.at })) as never)}::jsonb)
          AS h(order_id uuid, from_status text, to_status text, reason text, version int, event_id uuid, occurred_at timestamptz)`;
    }

    // Each user's feed sequence moves once, by the number of their updates; users locked in id order.
    const seqs = await nextFeedSeqs(
      tx,
      announced.map((a) => a.userId),
    );
    const byEvent = new Map<string, Output[]>();
    for (const a of announced) {
      const seq = seqs.take(a.userId);
      const occurredAt = a.at.getTime();
      byEvent.set(a.eventId, [
        {
          kind: 'feed',
          update: {
            type: 'order.status',
            seq,
            userId: a.userId,
            orderId: a.orderId,
            status: a.to,
            previousStatus: a.from,
            version: a.version,
            reason: a.reason,
            occurredAt,
            eventId: a.eventId,
          },
        },
        event(Topics.orderStatus, Events.OrderStatusChanged, a.orderId, {
          eventId: newId(),
          occurredAt,
          orderId: a.orderId,
          userId: a.userId,
          fromStatus: a.from,
          toStatus: a.to,
          version: a.version,
          reason: a.reason,
          causationEventId: a.eventId,
          causationType: a.causation.type,
        }),
      ]);
    }
    return events.map((e) => byEvent.get(e.payload.eventId) ?? []);
  },
};

/** Reserves as many feed sequence numbers as each user has updates; `take` hands them out in order. */
async function nextFeedSeqs(tx: Parameters<BatchStage['handleBatch']>[1]['tx'], userIds: string[]) {
  const counts = new Map<string, number>();
  for (const id of userIds) counts.set(id, (counts.get(id) ?? 0) + 1);
  const next = new Map<string, number>();
  if (counts.size > 0) {
    const ids = [...counts.keys()].sort();
    await tx`SELECT id FROM users WHERE id IN ${tx(ids)} ORDER BY id FOR NO KEY UPDATE`;
    const rows = await tx<{ id: string; feed_seq: string }[]>`
      UPDATE users u SET feed_seq = u.feed_seq + w.n
      FROM unnest(${ids}::uuid[], ${ids.map((id) => counts.get(id) ?? 0)}::int[]) AS w(id, n)
      WHERE u.id = w.id
      RETURNING u.id, u.feed_seq::text`;
    for (const r of rows) next.set(r.id, Number(r.feed_seq) - (counts.get(r.id) ?? 0) + 1);
  }
  return {
    take(userId: string): number {
      const seq = next.get(userId);
      if (seq === undefined) throw new PermanentError(WorkerErrorCodes.projectorUnknownUser, `user ${userId} does not exist`);
      next.set(userId, seq + 1);
      return seq;
    },
  };
}
