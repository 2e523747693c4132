/**
 * The rate limiter shared by the gateway and the WebSocket edge. One call checks every limit of a
 * request and returns the decision with the most restrictive limit, for the response headers.
 *
 * Cost: the checks of every request that arrives in the same turn of the event loop go to Redis as one
 * command (one script call deciding them in order: see script.ts and script-batch.ts), so Redis reads,
 * dispatches and answers once per batch and the gateway writes to its socket once per batch; on Redis
 * Cluster they go as one call per request, sent together (ioredis pipelines them per node). A batch names
 * the keys of several subjects, so a single-server client must point at a real single Redis (or a Cluster
 * through REDIS_CLUSTER_NODES), not at a sharding proxy that refuses cross-slot scripts. A key found over
 * its limit is then refused from memory until its oldest counted request leaves the window
 * (refusals.ts), at no Redis cost.
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
import type { Algorithm } from './config';
import type { Decision, LimitCheck } from './decision';
import { MemoryLimiter } from './memory';
import { RefusalCache } from './refusals';
import { ScriptBatcher } from './script-batch';

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

export class RateLimiter {
  private readonly logger: Logger;
  /** How long Redis is left alone after a failure. */
  private readonly retryAfterMs: number;
  private readonly script: ScriptBatcher;
  private readonly refusals: RefusalCache;
  private readonly memory = new MemoryLimiter();
  private downUntil = 0;
  private readonly decisions;
  private readonly degradedTotal;
  private readonly latency;
  private readonly prefix: string;

  constructor(options: LimiterOptions) {
    const { metrics } = options;
    this.logger = options.logger;
    this.retryAfterMs = options.retryAfterMs ?? 1_000;
    this.prefix = options.namespace ? `${options.namespace}:rl` : 'rl';
    this.decisions = metrics.counter('ratelimit_decisions_total', 'Rate-limit decisions by limit and outcome', ['limit', 'outcome']);
    this.degradedTotal = metrics.counter('ratelimit_degraded_total', 'Decisions taken without Redis', ['mode']);
    this.latency = metrics.histogram('ratelimit_check_seconds', 'Time to decide (Redis round trip included)');
    const batchSize = metrics.histogram('ratelimit_batch_size', 'Requests decided by one script call', [], [1, 2, 4, 8, 16, 32, 64, 128]);
    this.script = new ScriptBatcher(options.redis, options.algorithm, options.timeoutMs, batchSize);
    this.refusals = new RefusalCache(options.algorithm);
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
    const known = this.refusals.knownRefusal(keys, checks);
    if (known) {
      this.counter(known.binding.name, 'limited_local').inc();
      return known;
    }
    let raw: number[] | undefined;
    let degraded = false;
    if (Date.now() >= this.downUntil) {
      try {
        const sentAt = Date.now();
        raw = await this.script.call(keys, checks);
        if (raw[0] === 0) this.refusals.rememberRefusal(keys, raw, sentAt);
        if (this.downUntil !== 0) {
          this.logger.info('rate limiter back on Redis');
          this.downUntil = 0;
          // What the fallback counted is of no use once Redis decides again: let it go.
          this.memory.clear();
        }
      } catch (err) {
        if (this.downUntil === 0)
          this.logger.warn(
            { err: (err as Error).message },
            'rate limiter degraded: Redis unavailable; using the in-memory limiter, login refused',
          );
        this.downUntil = Date.now() + this.retryAfterMs;
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
