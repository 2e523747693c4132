/**
 * Concurrent-connection slots per user across every WebSocket edge instance: a sorted set per user
 * (hash-tagged, so Cluster-safe) whose members are connection ids scored by when their slot expires.
 * Live connections refresh their slots (heartbeat); a connection that dies without closing (an edge
 * killed with SIGKILL) stops refreshing and its slot frees itself after `slotTtlMs`.
 *
 * Redis down: the edge admits on its own count only (fail open, per instance), like the HTTP fallback.
 */
import type { Cluster, Redis } from 'ioredis';

const ACQUIRE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then n = n - 1 end
if n >= tonumber(ARGV[3]) then return { 0, n } end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return { 1, n + 1 }
`;

const REFRESH_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

type SlotClient = (Redis | Cluster) & {
  ordersWsAcquire(key: string, id: string, ttl: number, limit: number): Promise<[number, number]>;
  ordersWsRefresh(key: string, ttl: number, ...ids: string[]): Promise<number>;
};

export class ConnectionSlots {
  private readonly redis: SlotClient;
  private readonly prefix: string;

  constructor(
    redis: Redis | Cluster,
    namespace: string,
    private readonly limit: number,
    private readonly ttlMs: number,
  ) {
    if (!('ordersWsAcquire' in redis)) {
      redis.defineCommand('ordersWsAcquire', { numberOfKeys: 1, lua: ACQUIRE_LUA });
      redis.defineCommand('ordersWsRefresh', { numberOfKeys: 1, lua: REFRESH_LUA });
    }
    this.redis = redis as SlotClient;
    this.prefix = namespace ? `${namespace}:ws:conn` : 'ws:conn';
  }

  key(userId: string): string {
    return `${this.prefix}:{u:${userId}}`;
  }

  /** Takes a slot for this connection; `held` is how many the user then holds (or already held, if refused). */
  async acquire(userId: string, connectionId: string): Promise<{ ok: boolean; held: number }> {
    const [ok, held] = await this.redis.ordersWsAcquire(this.key(userId), connectionId, this.ttlMs, this.limit);
    return { ok: ok === 1, held };
  }

  async refresh(userId: string, connectionIds: string[]): Promise<void> {
    if (connectionIds.length > 0) await this.redis.ordersWsRefresh(this.key(userId), this.ttlMs, ...connectionIds);
  }

  async release(userId: string, connectionId: string): Promise<void> {
    await this.redis.zrem(this.key(userId), connectionId);
  }
}

/** A per-connection token bucket: `perSecond` messages a second, bursts up to the same number. */
export class MessageBucket {
  private tokens: number;
  private last = Date.now();

  constructor(private readonly perSecond: number) {
    this.tokens = perSecond;
  }

  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
