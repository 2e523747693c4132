/**
 * The limiter's way to Redis: the checks of every request that arrives in the same turn of the event
 * loop go as one call of the rate-limit script (one per request on a Cluster, sent together), and one
 * watchdog timer fails whatever waits longer than the limiter's timeout.
 */
import { Cluster, type Redis } from 'ioredis';
import type { Algorithm } from './config';
import type { LimitCheck } from './decision';
import { RATE_LIMIT_LUA } from './script';

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

let sequence = 0;

export class ScriptBatcher {
  private readonly redis: ScriptClient;
  private readonly cluster: boolean;
  private readonly memberPrefix = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  /** Calls waiting for Redis, by deadline; one watchdog timer for all of them instead of one timer per call. */
  private readonly pending = new Set<{ deadline: number; reject: (err: Error) => void }>();
  private watchdog: ReturnType<typeof setInterval> | undefined;
  /** Requests of the current turn of the event loop, sent together when it ends. */
  private queue: Pending[] = [];

  constructor(
    redis: Redis | Cluster,
    private readonly algorithm: Algorithm,
    private readonly timeoutMs: number,
    /** Requests decided by each script call. */
    private readonly batchSize: { observe(size: number): void },
  ) {
    if (!('ordersRateLimit' in redis)) redis.defineCommand('ordersRateLimit', { lua: RATE_LIMIT_LUA });
    this.redis = redis as ScriptClient;
    this.cluster = redis instanceof Cluster;
  }

  /** One request's checks, answered as the in-memory limiter answers: allowed, now, binding, pairs. */
  call(keys: string[], checks: LimitCheck[]): Promise<number[]> {
    const member = `${this.memberPrefix}:${(sequence++).toString(36)}`;
    return new Promise<number[]>((resolve, reject) => {
      const entry = { deadline: Date.now() + this.timeoutMs, reject };
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
    const args: (string | number)[] = [this.algorithm, batch.length];
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
    const tick = Math.max(5, Math.floor(this.timeoutMs / 4));
    this.watchdog = setInterval(() => {
      const now = Date.now();
      for (const p of this.pending) {
        if (p.deadline > now) continue;
        this.pending.delete(p);
        p.reject(new Error(`no answer within ${this.timeoutMs} ms`));
      }
      if (this.pending.size === 0) {
        clearInterval(this.watchdog);
        this.watchdog = undefined;
      }
    }, tick);
    // The watchdog alone never keeps a process alive.
    this.watchdog.unref?.();
  }
}
