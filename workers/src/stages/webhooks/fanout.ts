/**
 * webhooks fan-out: `order.status_changed` → one message per subscribed endpoint of the order's owner,
 * written in the stage's transaction (so a redelivered event adds nothing: one message per endpoint and
 * event), then a NOTIFY that wakes the dispatchers at commit. Paused endpoints keep collecting messages
 * (sent on resume); disabled ones get none.
 *
 * Self-deduplicating: (endpoint, event) is unique, so no processed-event record is kept (it was five
 * rows per order, almost half of all the pipeline's records). A redelivered event inserts nothing
 * again, except for an endpoint subscribed since its first delivery, which then gets it too.
 */
import { ConsumerGroups, Events, type OrderStatus, Topics, WEBHOOK_EVENT_BY_STATUS, type WebhookPayload } from '@orders/contracts';
import type { BatchStage } from '../../runtime/stage';

export const WEBHOOK_CHANNEL = 'webhooks';

export const webhookFanoutStage: BatchStage = {
  name: 'webhooks',
  group: ConsumerGroups.webhooks,
  topics: [Topics.orderStatus],
  handles: [Events.OrderStatusChanged],
  selfDeduplicating: true,
  async handleBatch(events, { tx }) {
    const rows = events.flatMap((e, ord) => {
      const p = e.payload as typeof e.payload & { toStatus: string; fromStatus: string | null; version: number; reason: string | null };
      const type = WEBHOOK_EVENT_BY_STATUS[p.toStatus as OrderStatus];
      if (!type) return [];
      const payload: WebhookPayload = {
        type,
        timestamp: new Date(p.occurredAt).toISOString(),
        data: { orderId: p.orderId, status: p.toStatus, previousStatus: p.fromStatus, version: p.version, reason: p.reason },
      };
      // The delivery continues the trace of the request that caused the change, as a child of this stage's
      // span for the event: the runtime hands the event over carrying that span's context (runtime/spans.ts).
      return [{ ord, event_id: p.eventId, user_id: p.userId, order_id: p.orderId, type, payload, traceparent: e.traceparent }];
    });
    if (rows.length > 0) {
      // In partition order, so `seq` (per-order ordering) follows the order's own history.
      const inserted = await tx`
        INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, order_id, payload, traceparent)
        SELECT gen_random_uuid(), e.id, r.event_id, r.type, r.order_id, r.payload, r.traceparent
        FROM jsonb_to_recordset(${tx.json(rows as never)}::jsonb)
             AS r(ord int, event_id uuid, user_id uuid, order_id uuid, type text, payload jsonb, traceparent text)
        JOIN webhook_endpoints e ON e.user_id = r.user_id AND e.status <> 'disabled' AND r.type = ANY (e.event_types)
        ORDER BY r.ord, e.id
        ON CONFLICT (endpoint_id, event_id) DO NOTHING`;
      if (inserted.count > 0) await tx`SELECT pg_notify(${WEBHOOK_CHANNEL}, '')`;
    }
    return events.map(() => []);
  },
};
