/**
 * The webhook dispatcher's sending side. The schedule is in PostgreSQL (`webhook_messages`), so it
 * survives restarts and any number of dispatchers share it:
 *
 * - **Claim** (one short transaction): lock the active, unblocked endpoints that have due messages
 *   (`FOR UPDATE SKIP LOCKED`: one dispatcher claims for an endpoint at a time), count each one's leases
 *   still running, and lease up to `maxInFlightPerEndpoint` minus that of its due messages (oldest first;
 *   for an `ordered` endpoint only an order's oldest pending one). A lease is `leasedUntil`: a dispatcher
 *   that dies mid-send leaves it to run out, and the message is sent again — with the same `webhook-id`,
 *   the receiver's de-duplication key. A recorded success is never sent again.
 * - **Send**: Standard Webhooks headers, every valid secret signs; POST with a timeout; redirects are not
 *   followed (only 2xx is success); the connection goes to an address checked at connect time (SSRF).
 * - **Record** (one transaction; successes finishing together share one): the attempt; the message's outcome or next attempt (schedule ± jitter,
 *   or `Retry-After` on 429/503, which also pauses the endpoint); the endpoint's breaker: after
 *   `breakerFailures` consecutive failures it is paused for `breakerCooldownMs` (then one message at a
 *   time until one succeeds); after `disableAfterFailures` failures spanning `disableAfterMs` it is
 *   disabled, with the reason kept for its owner. `410 Gone` disables it at once.
 *
 * Slow receivers hold only their own endpoint's few leases, never the others': the per-endpoint bound and
 * the global `concurrency` are separate.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import {
  type DestinationPolicy,
  type Logger,
  type Metrics,
  nextDelayMs,
  retryAfterMs,
  type SecretBox,
  type Sql,
  sign,
  UnsafeDestinationError,
} from '@orders/platform';
import { WEBHOOK_CHANNEL } from './fanout';

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

interface Claimed {
  id: string;
  endpoint_id: string;
  url: string;
  payload: unknown;
  attempts: number;
  secret_sealed: string;
  previous_sealed: string | null;
  traceparent: string | null;
  /**
   * The lease this dispatcher holds: a result is recorded only while it is this one's. Compared as text:
   * a JS Date (and postgres.js's timestamptz parameters) would drop the microseconds.
   */
  lease: string;
}

interface Result {
  status?: number;
  body?: string;
  error?: string;
  retryAfter?: string | null;
  ms: number;
}

const RESPONSE_KEPT = 1_024;
const RESPONSE_READ = 64 * 1_024;
const USER_AGENT = 'order-platform-webhooks/1.0';
const noNul = (text: string) => text.replaceAll('\u0000', '');

export class WebhookSender {
  private running = false;
  private readonly inflight = new Set<Promise<void>>();
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private readonly outcomes;
  private readonly latency;
  private readonly depth;
  private readonly disabled;

  constructor(private readonly o: SenderOptions) {
    this.outcomes = o.metrics.counter('webhook_attempts_total', 'Webhook delivery attempts by outcome', ['outcome']);
    this.latency = o.metrics.histogram('webhook_attempt_seconds', 'Webhook attempt duration (request to response)');
    this.depth = o.metrics.gauge('webhook_queue_depth', 'Webhook messages pending (due now or scheduled)', ['state']);
    this.disabled = o.metrics.gauge('webhook_endpoints_disabled', 'Webhook endpoints disabled (410 or the breaker)');
  }

  async start(): Promise<void> {
    this.running = true;
    // Fan-out NOTIFYs at commit: a new message goes out at once instead of at the next poll.
    const listener = await this.o.sql.listen(WEBHOOK_CHANNEL, () => this.wake?.());
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
    // Claims are worth a transaction only in bulk: wait for a quarter of the room to free up first.
    const minRoom = Math.max(1, Math.floor(this.o.concurrency / 4));
    while (this.running) {
      let claimed: Claimed[] = [];
      const room = this.o.concurrency - this.inflight.size;
      if (room >= minRoom || this.inflight.size === 0) {
        try {
          claimed = await this.claim(room);
        } catch (err) {
          this.o.logger.error({ err }, 'webhook claim failed');
        }
      }
      for (const m of claimed) {
        const p = this.deliver(m).catch((err) =>
          this.o.logger.error({ err, messageId: m.id }, 'webhook attempt not recorded; its lease runs out'),
        );
        this.inflight.add(p);
        void p.finally(() => {
          this.inflight.delete(p);
          if (this.o.concurrency - this.inflight.size >= minRoom) this.wake?.();
        });
      }
      if (Date.now() - lastGauges > 5_000) {
        lastGauges = Date.now();
        await this.gauges().catch(() => {});
      }
      // A full claim may leave more due: go again once there is room. Otherwise (or meanwhile) wait
      // for a NOTIFY, enough finished attempts, or the poll.
      if (claimed.length > 0 && claimed.length >= room && this.o.concurrency - this.inflight.size >= minRoom) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.o.pollMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  private async claim(room: number): Promise<Claimed[]> {
    const leaseMs = this.o.timeoutMs + 30_000;
    const claimed = await this.o.sql.begin(async (tx): Promise<Claimed[]> => {
      const endpoints = await tx<{ id: string; ordered: boolean; failing: boolean }[]>`
        SELECT e.id, e.ordered, e.consecutive_failures >= ${this.o.breakerFailures} AS failing
        FROM webhook_endpoints e
        WHERE e.status = 'active' AND (e.blocked_until IS NULL OR e.blocked_until <= now())
          AND EXISTS (SELECT 1 FROM webhook_messages m
                      WHERE m.endpoint_id = e.id AND m.status = 'pending' AND m.next_attempt_at <= now()
                        AND (m.leased_until IS NULL OR m.leased_until <= now()))
          -- Endpoints already at their bound are left out before the LIMIT: they cannot starve the rest.
          AND (SELECT count(*) FROM webhook_messages l
               WHERE l.endpoint_id = e.id AND l.leased_until IS NOT NULL AND l.leased_until > now()) < ${this.o.maxInFlightPerEndpoint}
        ORDER BY e.updated_at
        LIMIT 500
        -- NO KEY: still one claimer per endpoint, without blocking the fan-out's inserts (their FK lock).
        FOR NO KEY UPDATE SKIP LOCKED`;
      if (endpoints.length === 0) return [];
      const ids = endpoints.map((e) => e.id);
      const busy = new Map(
        (
          await tx<{ endpoint_id: string; n: number }[]>`
            SELECT endpoint_id, count(*)::int AS n FROM webhook_messages
            WHERE endpoint_id IN ${tx(ids)} AND leased_until IS NOT NULL AND leased_until > now()
            GROUP BY endpoint_id`
        ).map((r) => [r.endpoint_id, r.n]),
      );
      // A tripped breaker (half-open) lets one message through at a time until one succeeds.
      const rooms = endpoints
        .map((e) => ({
          endpoint_id: e.id,
          ordered: e.ordered,
          room: (e.failing ? 1 : this.o.maxInFlightPerEndpoint) - (busy.get(e.id) ?? 0),
        }))
        .filter((r) => r.room > 0);
      if (rooms.length === 0) return [];
      // Per endpoint, its oldest due messages up to its room, straight off the (endpoint_id, seq) index.
      return tx<Claimed[]>`
        UPDATE webhook_messages m
        SET leased_until = now() + ${leaseMs} * interval '1 millisecond', updated_at = now()
        FROM (
          SELECT pick.id FROM jsonb_to_recordset(${tx.json(rooms as never)}::jsonb) AS r(endpoint_id uuid, ordered boolean, room int)
          CROSS JOIN LATERAL (
            SELECT c.id, c.seq FROM webhook_messages c
            WHERE c.endpoint_id = r.endpoint_id AND c.status = 'pending' AND c.next_attempt_at <= now()
              AND (c.leased_until IS NULL OR c.leased_until <= now())
              AND (NOT r.ordered OR NOT EXISTS (
                    SELECT 1 FROM webhook_messages p
                    WHERE p.endpoint_id = c.endpoint_id AND p.order_id = c.order_id AND p.status = 'pending' AND p.seq < c.seq))
            ORDER BY c.seq
            LIMIT r.room
          ) pick
          ORDER BY pick.seq
          LIMIT ${room}
        ) chosen, webhook_endpoints e
        WHERE m.id = chosen.id AND e.id = m.endpoint_id
          -- Re-checked on the row itself: a message recorded meanwhile by another dispatcher is not taken.
          AND m.status = 'pending' AND (m.leased_until IS NULL OR m.leased_until <= now())
        RETURNING m.id, m.endpoint_id, e.url, m.payload, m.attempts, e.secret_sealed, m.traceparent, m.leased_until::text AS lease,
                  CASE WHEN e.previous_expires_at > now() THEN e.previous_sealed END AS previous_sealed`;
    });
    return claimed as Claimed[];
  }

  private async deliver(m: Claimed): Promise<void> {
    const body = JSON.stringify(m.payload);
    const webhookId = `msg_${m.id.replaceAll('-', '')}`;
    const timestamp = Math.floor(Date.now() / 1000);
    let secrets: string[];
    try {
      secrets = [this.o.box.open(m.secret_sealed), ...(m.previous_sealed ? [this.o.box.open(m.previous_sealed)] : [])];
    } catch {
      // Never sent, but counted: otherwise the lease would run out and the message come back for ever.
      await this.record(m, new Date(), { error: 'the endpoint secret could not be opened (WEBHOOK_SECRET_KEY changed?)', ms: 0 });
      return;
    }
    const headers = {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'webhook-id': webhookId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': sign(secrets, webhookId, timestamp, body),
      // The trace of the request that caused the event, so a receiver that traces can join it.
      ...(m.traceparent ? { traceparent: m.traceparent } : {}),
    };
    const startedAt = new Date();
    const result = await this.post(m.url, headers, body);
    this.latency.observe(result.ms / 1000);
    await this.record(m, startedAt, result);
  }

  /** One POST: never follows redirects, bounded in time and in what it reads back. */
  private async post(raw: string, headers: Record<string, string>, body: string): Promise<Result> {
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    let url: URL;
    try {
      url = this.o.policy.checkUrl(raw);
      // IP literals never reach `lookup`: check them here. Names are resolved and checked by `lookup` at
      // connect time, inside the request's own timeout (a DNS server that never answers costs one attempt).
      if (isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0) await this.o.policy.resolve(url.hostname);
    } catch (err) {
      return { error: `refused: ${(err as Error).message}`, ms: ms() };
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Result>((resolve) => {
      let settled = false;
      const done = (r: Omit<Result, 'ms'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...r, ms: ms() });
      };
      const req = send(
        url,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          lookup: this.o.policy.lookup as never,
          agent: false,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            if (size < RESPONSE_READ) chunks.push(c);
            size += c.length;
            if (size >= RESPONSE_READ) res.destroy();
          });
          const finish = () =>
            done({
              status: res.statusCode,
              // PostgreSQL text cannot hold NUL: a receiver's binary answer must not break the record.
              body: noNul(Buffer.concat(chunks).toString('utf8').slice(0, RESPONSE_KEPT)),
              retryAfter: res.headers['retry-after'] ?? null,
            });
          res.on('end', finish);
          res.on('close', finish);
          res.on('error', finish);
        },
      );
      const timer = setTimeout(() => {
        req.destroy();
        done({ error: `timed out after ${this.o.timeoutMs} ms` });
      }, this.o.timeoutMs);
      req.on('error', (err) =>
        done({
          error: noNul(
            err instanceof UnsafeDestinationError
              ? `refused: ${err.message}`
              : `${(err as NodeJS.ErrnoException).code ?? 'error'}: ${err.message}`,
          ),
        }),
      );
      req.end(body);
    });
  }

  /** Successes waiting to be recorded together: one transaction (one commit) for many. */
  private successes: { m: Claimed; startedAt: Date; r: Result; done: () => void; fail: (e: unknown) => void }[] = [];
  private flushScheduled = false;

  private record(m: Claimed, startedAt: Date, r: Result): Promise<void> {
    const ok = r.status !== undefined && r.status >= 200 && r.status < 300;
    if (!ok) return this.recordFailure(m, startedAt, r);
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
      this.o.logger.warn({ err }, 'batched success record failed; recording one by one');
      for (const b of batch) await this.recordSuccesses([b]).then(b.done, b.fail);
    }
  }

  private async recordSuccesses(batch: { m: Claimed; startedAt: Date; r: Result }[]): Promise<void> {
    const rows = batch.map(({ m, startedAt, r }) => ({
      message_id: m.id,
      lease: m.lease,
      attempt: m.attempts + 1,
      started_at: startedAt.toISOString(),
      duration_ms: r.ms,
      status_code: r.status,
      response_body: r.body ?? null,
    }));
    await this.o.sql.begin(async (tx) => {
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

  private async recordFailure(m: Claimed, startedAt: Date, r: Result): Promise<void> {
    const attempt = m.attempts + 1;
    const scale = this.o.timeScale;
    await this.o.sql.begin(async (tx) => {
      await tx`
        INSERT INTO webhook_attempts (message_id, attempt, started_at, duration_ms, status_code, error, response_body, outcome)
        VALUES (${m.id}, ${attempt}, ${startedAt}, ${r.ms}, ${r.status ?? null}, ${r.error ?? null}, ${r.body ?? null}, 'failed')`;
      const gone = r.status === 410;
      const throttled = r.status === 429 || r.status === 503;
      const waitMs = throttled ? retryAfterMs(r.retryAfter) : undefined;
      const scheduled = nextDelayMs(attempt, scale);
      const delay = scheduled === undefined ? undefined : Math.max(scheduled, waitMs ?? 0);
      const final = gone || delay === undefined;
      this.outcomes.inc({ outcome: gone ? 'gone' : final ? 'exhausted' : 'failed' });
      const updated = await tx`
        UPDATE webhook_messages SET
          status = ${final ? 'failed' : 'pending'}, attempts = ${attempt}, leased_until = NULL,
          next_attempt_at = now() + ${delay ?? 0} * interval '1 millisecond',
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
      const failing = Number(ep.failing_ms);
      const what = r.status !== undefined ? `HTTP ${r.status}` : (r.error ?? 'no answer');
      let disableReason: string | null = null;
      if (gone) disableReason = 'the endpoint answered 410 Gone';
      else if (ep.consecutive_failures >= this.o.disableAfterFailures && failing >= this.o.disableAfterMs * scale)
        disableReason = `${ep.consecutive_failures} consecutive failed attempts over ${Math.round(failing / 1000)} s (last: ${what})`;
      if (disableReason) {
        await tx`
          UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = ${disableReason}, updated_at = now()
          WHERE id = ${m.endpoint_id} AND status = 'active'`;
        this.o.logger.warn({ endpointId: m.endpoint_id, reason: disableReason }, 'webhook endpoint disabled');
        return;
      }
      // Pause the whole endpoint: on its own Retry-After, or for the cool-down when the breaker trips.
      const pauseMs = Math.max(waitMs ?? 0, ep.consecutive_failures >= this.o.breakerFailures ? this.o.breakerCooldownMs * scale : 0);
      if (pauseMs > 0)
        await tx`
          UPDATE webhook_endpoints SET blocked_until = now() + ${pauseMs} * interval '1 millisecond'
          WHERE id = ${m.endpoint_id}`;
    });
  }

  private async gauges(): Promise<void> {
    const [q] = await this.o.sql<{ due: number; later: number; disabled: number }[]>`
      SELECT (SELECT count(*)::int FROM webhook_messages WHERE status = 'pending' AND next_attempt_at <= now()) AS due,
             (SELECT count(*)::int FROM webhook_messages WHERE status = 'pending' AND next_attempt_at > now()) AS later,
             (SELECT count(*)::int FROM webhook_endpoints WHERE status = 'disabled') AS disabled`;
    if (!q) return;
    this.depth.set({ state: 'due' }, q.due);
    this.depth.set({ state: 'scheduled' }, q.later);
    this.disabled.set(q.disabled);
  }
}
