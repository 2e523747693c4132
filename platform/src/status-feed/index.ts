/**
 * The live status feed in Redis, between the status projector (writer) and the WebSocket edge (reader).
 *
 * - One pub/sub channel carries every update; each edge process holds one subscription to it and
 *   routes updates to the user's sockets (so subscriptions do not grow with sockets).
 * - A per-user sorted set scored by the user's sequence number (`{userId}` hash tag: one Cluster slot
 *   per user) keeps the latest updates, for a client that reconnects and asks for what it missed.
 *
 * Store and publish happen in one Lua script: atomic, one round trip, idempotent per sequence number.
 * A sorted set rather than a stream because updates may reach Redis out of sequence order (two of a
 * user's orders on partitions processed in parallel): a late lower sequence is still stored, and only
 * a sequence already present is refused as a duplicate (a redelivered event).
 */
import type { StatusUpdate } from '@orders/contracts';
import type { Cluster, Redis } from 'ioredis';

export interface FeedKeys {
  channel: string;
  /** The user's recent updates (sorted set, score = sequence). */
  recent(userId: string): string;
}

export function feedKeys(namespace: string): FeedKeys {
  const p = namespace ? `${namespace}:` : '';
  return {
    channel: `${p}orders:status`,
    recent: (userId) => `${p}orders:feed:{${userId}}`,
  };
}

/** Updates kept per user for recovery, and how long an idle user's set lives (the defaults). */
export const FEED_MAXLEN = 1_000;
export const FEED_TTL_SECONDS = 24 * 3600;

const PUBLISH_LUA = `
if redis.call('ZCOUNT', KEYS[1], ARGV[1], ARGV[1]) > 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[4]) + 1))
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[3], ARGV[2])
return 1
`;

type FeedRedis = (Redis | Cluster) & {
  ordersFeedPublish(key: string, seq: string, json: string, channel: string, maxlen: string, ttl: string): Promise<number>;
};

export class StatusFeedPublisher {
  private readonly redis: FeedRedis;

  constructor(
    redis: Redis | Cluster,
    private readonly keys: FeedKeys,
    /** Updates kept per user (STATUS_FEED_MAXLEN) and an idle user's set's lifetime (STATUS_FEED_TTL_SECONDS). */
    private readonly keep: { maxlen: number; ttlSeconds: number } = { maxlen: FEED_MAXLEN, ttlSeconds: FEED_TTL_SECONDS },
  ) {
    // defineCommand sends EVALSHA and falls back to EVAL on NOSCRIPT (after a Redis restart or failover).
    if (!('ordersFeedPublish' in redis)) redis.defineCommand('ordersFeedPublish', { numberOfKeys: 1, lua: PUBLISH_LUA });
    this.redis = redis as FeedRedis;
  }

  /** Stores and publishes; false when this seq was already published (a duplicate). */
  async publish(update: StatusUpdate): Promise<boolean> {
    const n = await this.redis.ordersFeedPublish(
      this.keys.recent(update.userId),
      String(update.seq),
      JSON.stringify(update),
      this.keys.channel,
      String(this.keep.maxlen),
      String(this.keep.ttlSeconds),
    );
    return n === 1;
  }
}

export type RecoveryResult = { ok: true; updates: StatusUpdate[] } | { ok: false; reason: 'gap' };

/**
 * Everything after `afterSeq` for a user, in sequence order, or `gap` when what Redis holds does not
 * continue gap-free from `afterSeq` (trimmed, expired, lost with Redis, or a lower sequence still on
 * its way): the client must then re-read through the REST API. `latestSeq` is the user's current
 * sequence as the caller knows it (0 when unknown).
 *
 * Nothing after `afterSeq` counts as up to date only if Redis still holds `afterSeq` itself (the latest
 * update is never trimmed): otherwise the set expired or was lost with Redis, and the client may have
 * missed anything.
 */
export async function readSince(
  redis: Redis | Cluster,
  keys: FeedKeys,
  userId: string,
  afterSeq: number,
  latestSeq = 0,
): Promise<RecoveryResult> {
  const key = keys.recent(userId);
  const replies = await redis
    .pipeline()
    .zrangebyscore(key, `(${afterSeq}`, '+inf', 'LIMIT', 0, FEED_MAXLEN)
    .zcount(key, afterSeq, afterSeq)
    .exists(key)
    .exec();
  const failed = replies?.find(([err]) => err)?.[0];
  if (!replies || failed) throw failed ?? new Error('recovery read failed');
  const members = replies[0]?.[1] as string[];
  const anchored = (replies[1]?.[1] as number) > 0;
  const exists = (replies[2]?.[1] as number) > 0;
  const updates = members.map((m) => JSON.parse(m) as StatusUpdate);
  if (updates.length === 0 && afterSeq > 0 && !anchored) return { ok: false, reason: 'gap' };
  // Nothing at all: never any update, or expired or lost with Redis. Only a re-read can tell.
  if (updates.length === 0 && afterSeq === 0 && !exists) return { ok: false, reason: 'gap' };
  for (let i = 0; i < updates.length; i++) if (updates[i]?.seq !== afterSeq + 1 + i) return { ok: false, reason: 'gap' };
  const last = updates[updates.length - 1]?.seq ?? afterSeq;
  if (latestSeq > last) return { ok: false, reason: 'gap' };
  return { ok: true, updates };
}

/** The highest sequence Redis holds for a user (0: none): where a freshly connected client starts. */
export async function latestSeq(redis: Redis | Cluster, keys: FeedKeys, userId: string): Promise<number> {
  const [, score] = await redis.zrevrange(keys.recent(userId), 0, 0, 'WITHSCORES');
  return score === undefined ? 0 : Number(score);
}

export function parseStatusUpdate(text: string): StatusUpdate | undefined {
  try {
    const u = JSON.parse(text) as Partial<StatusUpdate>;
    if (u.type !== 'order.status' || typeof u.userId !== 'string' || typeof u.seq !== 'number' || typeof u.orderId !== 'string')
      return undefined;
    return u as StatusUpdate;
  } catch {
    return undefined;
  }
}
