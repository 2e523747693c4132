/**
 * The rate limiter shared by the gateway and the WebSocket edge. One call checks every limit of a
 * request (one EVALSHA; ioredis re-sends the script on NOSCRIPT) and returns the decision with the most
 * restrictive limit, for the response headers.
 *
 * Failure policy: a call that fails or takes longer than `timeoutMs` is answered by the in-memory
 * fallback, unless the check is fail-closed (login), which is then refused. After a failure Redis is
 * left alone for `retryAfterMs`, so a dead Redis costs one timeout per interval, not one per request;
 * recovery is automatic. Each switch into degraded mode is logged once and every degraded decision
 * counted.
 */
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics';
import type { Algorithm, Rule } from './config';
import { MemoryLimiter } from './memory';
import { RATE_LIMIT_LUA } from './script';

export interface LimitCheck {
  /** Names the limit in headers and problems: `tier:free`, `POST /api/v1/orders`, `ip`, `login:account`. */
  name: string;
  rule: Rule;
}

export interface LimitState {
  name: string;
  limit: number;
  windowMs: number;
  remaining: number;
  /** Milliseconds until a slot frees up. */
  resetMs: number;
}

export interface Decision {
  allowed: boolean;
  /** The limit that refused, or the one closest to refusing. */
  binding: LimitState | undefined;
  states: LimitState[];
  /** Decided without Redis (fallback or fail-closed). */
  degraded: boolean;
  /** The clock reading the decision was taken at (Redis time, or local time when degraded). */
  at: number;
}

type ScriptClient = (Redis | Cluster) & {
  ordersRateLimit(...args: (string | number)[]): Promise<number[]>;
};

export interface LimiterOptions {
  redis: Redis | Cluster;
  algorithm: Algorithm;
  namespace: string;
  timeoutMs: number;
  retryAfterMs?: number;
  metrics: Metrics;
  logger: Logger;
}

export class RateLimitUnavailable extends Error {
  override readonly name = 'RateLimitUnavailable';
}

let sequence = 0;

export class RateLimiter {
  private readonly redis: ScriptClient;
  private readonly memory = new MemoryLimiter();
  private downUntil = 0;
  private readonly decisions;
  private readonly degradedTotal;
  private readonly latency;
  private readonly prefix: string;
  private readonly memberPrefix = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 8)}`;

  constructor(private readonly o: LimiterOptions) {
    if (!('ordersRateLimit' in o.redis)) o.redis.defineCommand('ordersRateLimit', { lua: RATE_LIMIT_LUA });
    this.redis = o.redis as ScriptClient;
    this.prefix = o.namespace ? `${o.namespace}:rl` : 'rl';
    this.decisions = o.metrics.counter('ratelimit_decisions_total', 'Rate-limit decisions by limit and outcome', ['limit', 'outcome']);
    this.degradedTotal = o.metrics.counter('ratelimit_degraded_total', 'Decisions taken without Redis', ['mode']);
    this.latency = o.metrics.histogram('ratelimit_check_seconds', 'Time to decide (Redis round trip included)');
  }

  /** Redis key of a limit; `{subject}` is the hash tag that keeps one subject's keys in one slot. */
  key(subject: string, check: LimitCheck): string {
    return `${this.prefix}:{${subject}}:${check.name.replace(/\s+/g, '_')}`;
  }

  async check(subject: string, checks: LimitCheck[], opts: { failClosed?: boolean } = {}): Promise<Decision> {
    if (checks.length === 0) return { allowed: true, binding: undefined, states: [], degraded: false, at: Date.now() };
    const started = performance.now();
    const keys = checks.map((c) => this.key(subject, c));
    let raw: number[] | undefined;
    let degraded = false;
    if (Date.now() >= this.downUntil) {
      try {
        raw = await this.callRedis(keys, checks);
        if (this.downUntil !== 0) {
          this.o.logger.info('rate limiter back on Redis');
          this.downUntil = 0;
        }
      } catch (err) {
        if (this.downUntil === 0)
          this.o.logger.warn(
            { err: (err as Error).message },
            'rate limiter degraded: Redis unavailable; using the in-memory limiter, login refused',
          );
        this.downUntil = Date.now() + (this.o.retryAfterMs ?? 1_000);
      }
    }
    if (!raw) {
      degraded = true;
      if (opts.failClosed) {
        this.degradedTotal.inc({ mode: 'fail_closed' });
        throw new RateLimitUnavailable('the rate limiter cannot reach Redis');
      }
      this.degradedTotal.inc({ mode: 'memory' });
      raw = this.memory.check(
        keys,
        checks.map((c) => c.rule),
      );
    }
    this.latency.observe((performance.now() - started) / 1000);
    return this.decide(checks, raw, degraded);
  }

  /** Calls waiting for Redis, by deadline; one watchdog timer for all of them instead of one timer per call. */
  private readonly pending = new Set<{ deadline: number; reject: (err: Error) => void }>();
  private watchdog: ReturnType<typeof setInterval> | undefined;

  private callRedis(keys: string[], checks: LimitCheck[]): Promise<number[]> {
    const member = `${this.memberPrefix}:${(sequence++).toString(36)}`;
    const args: (string | number)[] = [keys.length, ...keys, this.o.algorithm, member];
    for (const c of checks) args.push(c.rule.limit, c.rule.windowMs);
    return new Promise<number[]>((resolve, reject) => {
      const entry = { deadline: Date.now() + this.o.timeoutMs, reject };
      this.pending.add(entry);
      this.startWatchdog();
      this.redis.ordersRateLimit(...args).then(
        (r) => {
          this.pending.delete(entry);
          resolve(r);
        },
        (err: Error) => {
          this.pending.delete(entry);
          reject(err);
        },
      );
    });
  }

  private startWatchdog(): void {
    if (this.watchdog) return;
    const tick = Math.max(5, Math.floor(this.o.timeoutMs / 4));
    this.watchdog = setInterval(() => {
      const now = Date.now();
      for (const p of this.pending) {
        if (p.deadline > now) continue;
        this.pending.delete(p);
        p.reject(new Error(`no answer within ${this.o.timeoutMs} ms`));
      }
      if (this.pending.size === 0) {
        clearInterval(this.watchdog);
        this.watchdog = undefined;
      }
    }, tick);
    // The watchdog alone never keeps a process alive.
    this.watchdog.unref?.();
  }

  private readonly children = new Map<string, { inc(): void }>();

  /** Labelled counters looked up once: prom-client hashes labels on every call otherwise. */
  private counter(limit: string, outcome: string): { inc(): void } {
    const key = `${limit}\0${outcome}`;
    let c = this.children.get(key);
    if (!c) {
      c = this.decisions.labels(limit, outcome);
      this.children.set(key, c);
    }
    return c;
  }

  private decide(checks: LimitCheck[], raw: number[], degraded: boolean): Decision {
    const allowed = raw[0] === 1;
    const states = checks.map((c, i) => {
      const count = Number(raw[3 + 2 * i]);
      const reset = Number(raw[4 + 2 * i]);
      return {
        name: c.name,
        limit: c.rule.limit,
        windowMs: c.rule.windowMs,
        remaining: Math.max(0, c.rule.limit - count),
        // -1: not computed (not the binding limit); the full window is the honest upper bound.
        resetMs: reset < 0 ? c.rule.windowMs : reset,
      };
    });
    // The binding limit, as the script (or the in-memory fallback) chose it: its reset is the real one.
    const binding = states[Number(raw[2]) - 1] ?? states[0];
    for (const s of states) this.counter(s.name, allowed ? 'allowed' : s.remaining === 0 ? 'limited' : 'not_counted').inc();
    return { allowed, binding, states, degraded, at: Number(raw[1]) };
  }
}
