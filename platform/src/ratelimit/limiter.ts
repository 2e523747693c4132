/**
 * The rate limiter shared by the gateway and the WebSocket edge. One call checks every limit of a
 * request and returns the decision with the most restrictive limit, for the response headers.
 *
 * Cost: the checks of every request that arrives in the same turn of the event loop go to Redis as one
 * command (one script call deciding them in order: see script.ts), so Redis reads, dispatches and
 * answers once per batch and the gateway writes to its socket once per batch; on Redis Cluster they go
 * as one call per request, sent together (ioredis pipelines them per node). A batch names the keys of
 * several subjects, so a single-server client must point at a real single Redis (or a Cluster through
 * REDIS_CLUSTER_NODES), not at a sharding proxy that refuses cross-slot scripts. A key found over its limit is
 * then refused from memory until the moment its oldest counted request leaves the window: with the
 * exact log nothing can free a slot before that (refusals are not recorded, admissions only add), so
 * the local answer is the one Redis would give, and a client hammering past its limit costs no Redis
 * work at all. The moment is taken from this process's clock at the time the batch was sent (before
 * Redis decided), so it can only end early, never late.
 *
 * Failure policy: a call that fails or takes longer than `timeoutMs` is answered by the in-memory
 * fallback, unless the check is fail-closed (login), which is then refused. After a failure Redis is
 * left alone for `retryAfterMs`, so a dead Redis costs one timeout per interval, not one per request;
 * recovery is automatic. Each switch into degraded mode is logged once and every degraded decision
 * counted.
 */
import { Cluster, type Redis } from 'ioredis';
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

/** A request waiting for the next batch. */
interface Pending {
  keys: string[];
  checks: LimitCheck[];
  member: string;
  resolve(raw: number[]): void;
  reject(err: Error): void;
}

/** Requests per script call: bounds the time Redis spends in one call (about 10 µs per request). */
const MAX_BATCH = 128;
/** Keys remembered as refused; the oldest entry goes first beyond this. */
const MAX_REFUSED_KEYS = 50_000;

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
  private readonly batchSize;
  private readonly prefix: string;
  private readonly memberPrefix = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 8)}`;

  constructor(private readonly o: LimiterOptions) {
    if (!('ordersRateLimit' in o.redis)) o.redis.defineCommand('ordersRateLimit', { lua: RATE_LIMIT_LUA });
    this.redis = o.redis as ScriptClient;
    this.prefix = o.namespace ? `${o.namespace}:rl` : 'rl';
    this.decisions = o.metrics.counter('ratelimit_decisions_total', 'Rate-limit decisions by limit and outcome', ['limit', 'outcome']);
    this.degradedTotal = o.metrics.counter('ratelimit_degraded_total', 'Decisions taken without Redis', ['mode']);
    this.latency = o.metrics.histogram('ratelimit_check_seconds', 'Time to decide (Redis round trip included)');
    this.batchSize = o.metrics.histogram('ratelimit_batch_size', 'Requests decided by one script call', [], [1, 2, 4, 8, 16, 32, 64, 128]);
    this.cluster = o.redis instanceof Cluster;
  }

  /** Redis key of a limit; `{subject}` is the hash tag that keeps one subject's keys in one slot. */
  key(subject: string, check: LimitCheck): string {
    let name = this.names.get(check.name);
    if (name === undefined) {
      name = check.name.replace(/\s+/g, '_');
      if (this.names.size < 10_000) this.names.set(check.name, name);
    }
    return `${this.prefix}:{${subject}}:${name}`;
  }

  /** Limit names as they appear in keys (whitespace replaced), computed once per name. */
  private readonly names = new Map<string, string>();

  async check(subject: string, checks: LimitCheck[], opts: { failClosed?: boolean } = {}): Promise<Decision> {
    if (checks.length === 0) return { allowed: true, binding: undefined, states: [], degraded: false, at: Date.now() };
    const started = performance.now();
    const keys = checks.map((c) => this.key(subject, c));
    const known = this.knownRefusal(keys, checks);
    if (known) return known;
    let raw: number[] | undefined;
    let degraded = false;
    if (Date.now() >= this.downUntil) {
      try {
        const sentAt = Date.now();
        raw = await this.callRedis(keys, checks);
        if (raw[0] === 0) this.rememberRefusal(keys, raw, sentAt);
        if (this.downUntil !== 0) {
          this.o.logger.info('rate limiter back on Redis');
          this.downUntil = 0;
          // What the fallback counted is of no use once Redis decides again: let it go.
          this.memory.clear();
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

  /** Keys refused by Redis, with the local time until which they stay refused. */
  private readonly refusedUntil = new Map<string, number>();

  /**
   * The decision for a request one of whose keys is still refused: the same answer Redis would give
   * (that key full until its oldest entry leaves the window), without asking it.
   */
  private knownRefusal(keys: string[], checks: LimitCheck[]): Decision | undefined {
    if (this.refusedUntil.size === 0) return undefined;
    const now = Date.now();
    for (const [i, key] of keys.entries()) {
      const until = this.refusedUntil.get(key);
      if (until === undefined) continue;
      if (until <= now) {
        this.refusedUntil.delete(key);
        continue;
      }
      const check = checks[i] as LimitCheck;
      const binding: LimitState = {
        name: check.name,
        limit: check.rule.limit,
        windowMs: check.rule.windowMs,
        remaining: 0,
        resetMs: until - now,
      };
      // The other limits were not consulted: their states say nothing beyond their rule.
      const states = checks.map((c, j) =>
        j === i
          ? binding
          : { name: c.name, limit: c.rule.limit, windowMs: c.rule.windowMs, remaining: c.rule.limit, resetMs: c.rule.windowMs },
      );
      this.counter(check.name, 'limited_local').inc();
      return { allowed: false, binding, states, degraded: false, at: now };
    }
    return undefined;
  }

  /** With the exact log, a full key stays full until its oldest entry leaves the window (see above). */
  private rememberRefusal(keys: string[], raw: number[], sentAt: number): void {
    if (this.o.algorithm !== 'log') return;
    const binding = Number(raw[2]) - 1;
    const key = keys[binding];
    const reset = Number(raw[4 + 2 * binding]);
    if (key === undefined || !(reset > 0)) return;
    if (this.refusedUntil.size >= MAX_REFUSED_KEYS) {
      const oldest = this.refusedUntil.keys().next().value;
      if (oldest !== undefined) this.refusedUntil.delete(oldest);
    }
    this.refusedUntil.delete(key);
    this.refusedUntil.set(key, sentAt + reset);
  }

  /** Calls waiting for Redis, by deadline; one watchdog timer for all of them instead of one timer per call. */
  private readonly pending = new Set<{ deadline: number; reject: (err: Error) => void }>();
  private watchdog: ReturnType<typeof setInterval> | undefined;
  /** Requests of the current turn of the event loop, sent together when it ends. */
  private queue: Pending[] = [];
  private readonly cluster: boolean;

  private callRedis(keys: string[], checks: LimitCheck[]): Promise<number[]> {
    const member = `${this.memberPrefix}:${(sequence++).toString(36)}`;
    return new Promise<number[]>((resolve, reject) => {
      const entry = { deadline: Date.now() + this.o.timeoutMs, reject };
      this.pending.add(entry);
      this.startWatchdog();
      this.queue.push({
        keys,
        checks,
        member,
        resolve: (r) => {
          this.pending.delete(entry);
          resolve(r);
        },
        reject: (err) => {
          this.pending.delete(entry);
          reject(err);
        },
      });
      if (this.queue.length === 1) setImmediate(() => this.flush());
    });
  }

  /** Sends the waiting requests: one script call per batch (one per request on a Cluster). */
  private flush(): void {
    const queue = this.queue;
    this.queue = [];
    const size = this.cluster ? 1 : MAX_BATCH;
    for (let i = 0; i < queue.length; i += size) this.send(queue.slice(i, i + size));
  }

  private send(batch: Pending[]): void {
    const keys: string[] = [];
    const args: (string | number)[] = [this.o.algorithm, batch.length];
    for (const p of batch) {
      keys.push(...p.keys);
      args.push(p.keys.length, p.member);
      for (const c of p.checks) args.push(c.rule.limit, c.rule.windowMs);
    }
    this.batchSize.observe(batch.length);
    this.redis.ordersRateLimit(keys.length, ...keys, ...args).then(
      (reply) => {
        // Back to one array per request, as the in-memory limiter answers: allowed, now, binding, pairs.
        const now = Number(reply[0]);
        let at = 1;
        for (const p of batch) {
          const n = p.keys.length;
          p.resolve([Number(reply[at]), now, ...reply.slice(at + 1, at + 2 + 2 * n).map(Number)]);
          at += 2 + 2 * n;
        }
      },
      (err: Error) => {
        for (const p of batch) p.reject(err);
      },
    );
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
