/** The webhook dispatcher's metrics: attempts by outcome and their latency, the queue's depth, disabled endpoints. */
import type { Metrics, Sql } from '@orders/platform';

export function webhookMetrics(metrics: Metrics) {
  return {
    outcomes: metrics.counter('webhook_attempts_total', 'Webhook delivery attempts by outcome', ['outcome']),
    latency: metrics.histogram('webhook_attempt_seconds', 'Webhook attempt duration (request to response)'),
    depth: metrics.gauge('webhook_queue_depth', 'Webhook messages pending (due now or scheduled)', ['state']),
    disabled: metrics.gauge('webhook_endpoints_disabled', 'Webhook endpoints disabled (410 or the breaker)'),
  };
}

export type WebhookMetrics = ReturnType<typeof webhookMetrics>;

/** Sets the queue gauges from three counts (the sender calls it every few seconds, not per attempt). */
export async function refreshQueueGauges(sql: Sql, { depth, disabled }: WebhookMetrics): Promise<void> {
  const [q] = await sql<{ due: number; later: number; disabled: number }[]>`
    SELECT (SELECT count(*)::int FROM webhook_messages WHERE status = 'pending' AND next_attempt_at <= now()) AS due,
           (SELECT count(*)::int FROM webhook_messages WHERE status = 'pending' AND next_attempt_at > now()) AS later,
           (SELECT count(*)::int FROM webhook_endpoints WHERE status = 'disabled') AS disabled`;
  if (!q) return;
  depth.set({ state: 'due' }, q.due);
  depth.set({ state: 'scheduled' }, q.later);
  disabled.set(q.disabled);
}
