/**
 * The webhook dispatcher's sending side: a loop that claims due messages, sends each, and records the
 * attempt. The schedule is in PostgreSQL (`webhook_messages`, filled by fanout.ts), so it survives
 * restarts and any number of dispatchers share it:
 *
 * - **Claim** (claim.ts): lease due messages, each endpoint within its own bound of attempts in flight and
 *   its rate limit (rate.ts); the claim says when an endpoint it filled to its limit has room again, so
 *   the loop claims then rather than at its next poll.
 * - **Send** (deliver.ts): the endpoint's custom headers and the signed ones, one POST to an address
 *   checked at connect time.
 * - **Record** (record.ts, policy.ts): the attempt, the message's outcome or next attempt, the
 *   endpoint's breaker, pause or disabling.
 *
 * Slow receivers hold only their own endpoint's few leases, never the others': the per-endpoint bound and
 * the global `concurrency` are separate.
 */
import { type DestinationPolicy, type Logger, type Metrics, PgErrorCodes, pgErrorCode, type SecretBox, type Sql } from '@orders/platform';
import { openCustomHeaders } from '@orders/platform/webhooks/custom-headers';
import { type Claimed, type ClaimLimits, claimDue } from './claim';
import { attempt } from './deliver';
import { WEBHOOK_CHANNEL } from './fanout';
import { refreshQueueGauges, type WebhookMetrics, webhookMetrics } from './metrics';
import type { FailurePolicy } from './policy';
import { RoomWakeups } from './rate';
import { AttemptRecorder } from './record';

export interface SenderOptions {
  sql: Sql;
  box: SecretBox;
  policy: DestinationPolicy;
  logger: Logger;
  metrics: Metrics;
  /** Multiplies every delay of the schedule, cool-down and disable window (tests run it in seconds). */
  timeScale: number;
  timeoutMs: number;
  concurrency: number;
  maxInFlightPerEndpoint: number;
  pollMs: number;
  breakerFailures: number;
  breakerCooldownMs: number;
  disableAfterFailures: number;
  disableAfterMs: number;
}

/** How often the queue gauges are refreshed. */
const GAUGES_EVERY_MS = 5_000;

export class WebhookSender {
  private running = false;
  private readonly inflight = new Set<Promise<void>>();
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private readonly sql: Sql;
  private readonly box: SecretBox;
  private readonly destination: { policy: DestinationPolicy; timeoutMs: number };
  private readonly logger: Logger;
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly limits: ClaimLimits;
  private readonly metrics: WebhookMetrics;
  private readonly recorder: AttemptRecorder;

  constructor(options: SenderOptions) {
    const { sql, box, policy, logger, metrics, timeoutMs, concurrency, maxInFlightPerEndpoint, pollMs, breakerFailures } = options;
    this.sql = sql;
    this.box = box;
    this.destination = { policy, timeoutMs };
    this.logger = logger;
    this.concurrency = concurrency;
    this.pollMs = pollMs;
    // A lease outlives the attempt's own timeout, so it never runs out while the attempt is still on.
    this.limits = { maxInFlightPerEndpoint, breakerFailures, leaseMs: timeoutMs + 30_000 };
    this.metrics = webhookMetrics(metrics);
    const { timeScale, breakerCooldownMs, disableAfterFailures, disableAfterMs } = options;
    const failures: FailurePolicy = { timeScale, breakerFailures, breakerCooldownMs, disableAfterFailures, disableAfterMs };
    this.recorder = new AttemptRecorder(sql, logger, failures, this.metrics.outcomes);
  }

  async start(): Promise<void> {
    this.running = true;
    // Fan-out NOTIFYs at commit: a new message goes out at once instead of at the next poll.
    const listener = await this.sql.listen(WEBHOOK_CHANNEL, () => this.wake?.());
    this.unlisten = () => listener.unlisten();
    this.loopDone = this.loop();
  }

  /** Stops claiming and waits for the attempts in flight to be recorded. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loopDone;
    await Promise.all(this.inflight);
    await this.unlisten?.().catch(() => {});
  }

  private async loop(): Promise<void> {
    let lastGauges = 0;
    const wakeups = new RoomWakeups();
    // Claims are worth a transaction only in bulk: wait for a quarter of the room to free up first.
    const minRoom = Math.max(1, Math.floor(this.concurrency / 4));
    const canClaim = () => this.concurrency - this.inflight.size >= minRoom || this.inflight.size === 0;
    while (this.running) {
      let claimed: Claimed[] = [];
      let claimFailed = false;
      const room = this.concurrency - this.inflight.size;
      if (canClaim()) {
        const claimAt = Date.now();
        try {
          const result = await claimDue(this.sql, room, this.limits);
          claimed = result.messages;
          wakeups.afterClaim(claimAt, result.roomAgainInMs);
        } catch (err) {
          claimFailed = true;
          this.logger.error({ err }, 'webhook claim failed');
        }
      }
      for (const m of claimed) {
        const p = this.deliver(m).catch((err) => {
          // Its endpoint (and with it the message) was deleted while the attempt was in flight: nothing to record.
          if (pgErrorCode(err) === PgErrorCodes.foreignKeyViolation)
            this.logger.info({ messageId: m.id }, 'webhook endpoint deleted during an attempt; the attempt is not recorded');
          else this.logger.error({ err, messageId: m.id }, 'webhook attempt not recorded; its lease runs out');
        });
        this.inflight.add(p);
        void p.finally(() => {
          this.inflight.delete(p);
          if (this.concurrency - this.inflight.size >= minRoom) this.wake?.();
        });
      }
      if (Date.now() - lastGauges > GAUGES_EVERY_MS) {
        lastGauges = Date.now();
        await refreshQueueGauges(this.sql, this.metrics).catch(() => {});
      }
      // A full claim may leave more due: go again once there is room. Otherwise (or meanwhile) wait
      // for a NOTIFY, enough finished attempts, the poll, or a rate-limited endpoint's next room (only
      // when the next claim will run: not while busy, nor after a failed claim, which waits the poll).
      if (claimed.length > 0 && claimed.length >= room && this.concurrency - this.inflight.size >= minRoom) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wakeups.waitMs(this.pollMs, !claimFailed && canClaim()));
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** One attempt: sign, send, record. */
  private async deliver(m: Claimed): Promise<void> {
    let secrets: string[];
    let custom: Record<string, string>;
    try {
      secrets = [this.box.open(m.secret_sealed), ...(m.previous_sealed ? [this.box.open(m.previous_sealed)] : [])];
    } catch {
      // Never sent, but counted: otherwise the lease would run out and the message come back for ever.
      await this.recorder.record(m, new Date(), { error: 'the endpoint secret could not be opened (WEBHOOK_SECRET_KEY changed?)', ms: 0 });
      return;
    }
    try {
      custom = openCustomHeaders(this.box, m.headers_sealed);
    } catch {
      // Not sent without them: the receiver may need them (credentials) and would refuse or misroute it.
      await this.recorder.record(m, new Date(), {
        error: 'the endpoint custom headers could not be opened (WEBHOOK_SECRET_KEY changed?)',
        ms: 0,
      });
      return;
    }
    const startedAt = new Date();
    const result = await attempt(m, secrets, custom, this.destination);
    this.metrics.latency.observe(result.ms / 1000);
    await this.recorder.record(m, startedAt, result);
  }
}
