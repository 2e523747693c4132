/**
 * The live status feed in Redis, between the status projector (writer) and the WebSocket edge (reader).
 *
 * - One pub/sub channel carries every update; each edge process holds one subscription to it and
 *   routes updates to the user's sockets (so subscriptions do not grow with sockets).
 * - A per-user stream (`{userId}` hash tag: one Cluster slot per user) keeps the last updates by the
 *   user's sequence number, for a client that reconnects and asks for what it missed.
 *
 * The append and the publish happen in one Lua script: atomic, one round trip, and idempotent. The
 * stream entry id is `<seq>-0`, so re-publishing an update (a redelivered event) is refused by XADD
 * and not published twice.
 */
import type { StatusUpdate } from '@orders/contracts';
import type { Redis } from 'ioredis';

export interface FeedKeys {
  channel: string;
  stream(userId: string): string;
}

export function feedKeys(namespace: string): FeedKeys {
  const p = namespace ? `${namespace}:` : '';
  return {
    channel: `${p}orders:status`,
    stream: (userId) => `${p}orders:feed:{${userId}}`,
  };
}

/** Updates kept per user for recovery, and how long an idle user's stream lives. */
export const FEED_MAXLEN = 1_000;
export const FEED_TTL_SECONDS = 24 * 3600;

const PUBLISH_LUA = `
local r = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], ARGV[1] .. '-0', 'u', ARGV[2])
if type(r) == 'table' and r.err then
  if string.find(r.err, 'equal or smaller', 1, true) then return 0 end
  return redis.error_reply(r.err)
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[3], ARGV[2])
return 1
`;

type FeedRedis = Redis & {
  ordersFeedPublish(stream: string, seq: string, json: string, channel: string, maxlen: string, ttl: string): Promise<number>;
};

export class StatusFeedPublisher {
  private readonly redis: FeedRedis;

  constructor(
    redis: Redis,
    private readonly keys: FeedKeys,
  ) {
    // defineCommand sends EVALSHA and falls back to EVAL on NOSCRIPT (after a Redis restart or failover).
    if (!('ordersFeedPublish' in redis)) redis.defineCommand('ordersFeedPublish', { numberOfKeys: 1, lua: PUBLISH_LUA });
    this.redis = redis as FeedRedis;
  }

  /** Appends and publishes; false when this seq was already published (a duplicate). */
  async publish(update: StatusUpdate): Promise<boolean> {
    const n = await this.redis.ordersFeedPublish(
      this.keys.stream(update.userId),
      String(update.seq),
      JSON.stringify(update),
      this.keys.channel,
      String(FEED_MAXLEN),
      String(FEED_TTL_SECONDS),
    );
    return n === 1;
  }
}

export type RecoveryResult = { ok: true; updates: StatusUpdate[] } | { ok: false; reason: 'gap' };

/**
 * Everything after `afterSeq` for a user, or `gap` when the stream no longer holds the update right
 * after it (trimmed, expired, or lost with Redis): the client must then re-read through the REST API.
 * `latestSeq` is the user's current sequence as the caller knows it (0 when unknown).
 */
export async function readSince(redis: Redis, keys: FeedKeys, userId: string, afterSeq: number, latestSeq = 0): Promise<RecoveryResult> {
  const entries = await redis.xrange(keys.stream(userId), `${afterSeq + 1}-0`, '+', 'COUNT', FEED_MAXLEN);
  const updates = entries.map(([, fields]) => JSON.parse(fields[1] ?? 'null') as StatusUpdate);
  const first = updates[0];
  if (first && first.seq !== afterSeq + 1) return { ok: false, reason: 'gap' };
  if (!first && latestSeq > afterSeq) return { ok: false, reason: 'gap' };
  return { ok: true, updates };
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
