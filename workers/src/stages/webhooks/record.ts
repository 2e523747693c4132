/**
 * Recording webhook attempts, each only while this dispatcher's lease on the message is still its own (a
 * dispatcher whose lease ran out must not overwrite another's result):
 *
 * - successes finishing together share one transaction (one commit for many): the attempts, the
 *   messages succeeded, their endpoints' failure counts reset; if that fails, one by one, so one bad row
 *   does not leave the others unrecorded (and re-sent when their leases run out);
 * - a failure, in a transaction of its own: the attempt, the message's next attempt or final failure,
 *   and its endpoint's breaker, pause or disabling, as policy.ts decides.
 */
import type { Logger, Sql } from '@orders/platform';
import type { Claimed } from './claim';
import type { AttemptResult } from './deliver';
import type { WebhookMetrics } from './metrics';
import { disableReason, type FailurePolicy, isSuccess, nextStep, pauseMs } from './policy';

interface Attempt {
  m: Claimed;
  startedAt: Date;
  r: AttemptResult;
}

export class AttemptRecorder {
  /** Successes waiting to be recorded together. */
  private successes: (Attempt & { done: () => void; fail: (e: unknown) => void })[] = [];
  private flushScheduled = false;

  constructor(
    private readonly sql: Sql,
    private readonly logger: Logger,
    private readonly policy: FailurePolicy,
    private readonly outcomes: WebhookMetrics['outcomes'],
  ) {}

  /** Resolves once the attempt is recorded. */
  record(m: Claimed, startedAt: Date, r: AttemptResult): Promise<void> {
    if (!isSuccess(r)) return this.recordFailure(m, startedAt, r);
    return new Promise<void>((done, fail) => {
      this.successes.push({ m, startedAt, r, done, fail });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.flushSuccesses());
      }
    });
  }

  private async flushSuccesses(): Promise<void> {
    const batch = this.successes;
    this.successes = [];
    this.flushScheduled = false;
    try {
      await this.recordSuccesses(batch);
      for (const b of batch) b.done();
    } catch (err) {
      // One bad row must not leave the others unrecorded (and re-sent when their leases run out).
      this.logger.warn({ err }, 'batched success record failed; recording one by one');
      for (const b of batch) await this.recordSuccesses([b]).then(b.done, b.fail);
    }
  }

  private async recordSuccesses(batch: Attempt[]): Promise<void> {
    const rows = batch.map(({ m, startedAt, r }) => ({
      message_id: m.id,
      lease: m.lease,
      attempt: m.attempts + 1,
      started_at: startedAt.toISOString(),
      duration_ms: r.ms,
      status_code: r.status,
      response_body: r.body ?? null,
    }));
    await this.sql.begin(async (tx) => {
      const json = tx.json(rows as never);
      await tx`
        INSERT INTO webhook_attempts (message_id, attempt, started_at, duration_ms, status_code, response_body, outcome)
        SELECT r.message_id, r.attempt, r.started_at, r.duration_ms, r.status_code, r.response_body, 'succeeded'
        FROM jsonb_to_recordset(${json}::jsonb)
             AS r(message_id uuid, attempt int, started_at timestamptz, duration_ms int, status_code int, response_body text)`;
      // Only while the lease is still ours: a dispatcher whose lease ran out must not overwrite another's result.
      await tx`
        WITH done AS (
          UPDATE webhook_messages m SET status = 'succeeded', attempts = r.attempt, leased_until = NULL,
            last_status_code = r.status_code, last_error = NULL, updated_at = now()
          FROM jsonb_to_recordset(${json}::jsonb) AS r(message_id uuid, lease text, attempt int, status_code int)
          WHERE m.id = r.message_id AND m.status = 'pending' AND m.leased_until::text = r.lease
          RETURNING m.endpoint_id
        )
        UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL, blocked_until = NULL, updated_at = now()
        WHERE id IN (SELECT endpoint_id FROM done) AND consecutive_failures > 0`;
    });
    this.outcomes.inc({ outcome: 'succeeded' }, batch.length);
  }

  private async recordFailure(m: Claimed, startedAt: Date, r: AttemptResult): Promise<void> {
    const attempt = m.attempts + 1;
    await this.sql.begin(async (tx) => {
      await tx`
        INSERT INTO webhook_attempts (message_id, attempt, started_at, duration_ms, status_code, error, response_body, outcome)
        VALUES (${m.id}, ${attempt}, ${startedAt}, ${r.ms}, ${r.status ?? null}, ${r.error ?? null}, ${r.body ?? null}, 'failed')`;
      const step = nextStep(attempt, r, this.policy.timeScale);
      this.outcomes.inc({ outcome: step.outcome });
      const updated = await tx`
        UPDATE webhook_messages SET
          status = ${step.final ? 'failed' : 'pending'}, attempts = ${attempt}, leased_until = NULL,
          next_attempt_at = now() + ${step.delayMs ?? 0} * interval '1 millisecond',
          last_status_code = ${r.status ?? null}, last_error = ${r.error ?? null}, updated_at = now()
        WHERE id = ${m.id} AND status = 'pending' AND leased_until::text = ${m.lease}::text`;
      // Our lease ran out and another dispatcher has it (or already recorded it): the attempt stays in the
      // history, the message and the endpoint's breaker are its business now.
      if (updated.count === 0) return;
      const [ep] = await tx<{ consecutive_failures: number; failing_ms: number }[]>`
        UPDATE webhook_endpoints SET
          consecutive_failures = consecutive_failures + 1,
          failing_since = coalesce(failing_since, now()),
          updated_at = now()
        WHERE id = ${m.endpoint_id}
        RETURNING consecutive_failures, (extract(epoch FROM now() - failing_since) * 1000)::bigint AS failing_ms`;
      if (!ep) return;
      const reason = disableReason(this.policy, r, step, {
        consecutiveFailures: ep.consecutive_failures,
        failingMs: Number(ep.failing_ms),
      });
      if (reason) {
        await tx`
          UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = ${reason}, updated_at = now()
          WHERE id = ${m.endpoint_id} AND status = 'active'`;
        this.logger.warn({ endpointId: m.endpoint_id, reason }, 'webhook endpoint disabled');
        return;
      }
      const pause = pauseMs(this.policy, step, ep.consecutive_failures);
      if (pause > 0)
        await tx`
          UPDATE webhook_endpoints SET blocked_until = now() + ${pause} * interval '1 millisecond'
          WHERE id = ${m.endpoint_id}`;
    });
  }
}
