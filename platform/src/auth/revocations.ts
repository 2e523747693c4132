/**
 * Ended sessions, known to every process that verifies access tokens, without a read per request.
 *
 * An access token carries its session (`sid`, the refresh-token family). Logging out, or a refresh
 * token reused (leaked), ends the session at once: the session id goes into a Redis sorted set (scored
 * by when the last token it could have issued expires) and out on a pub/sub channel. Each gateway and
 * edge keeps the set in memory: loaded whole whenever its subscription (re)connects, so nothing
 * published while it was away is missed, and kept current by the channel. A check is a Map lookup.
 *
 * Redis holds nothing that may not be lost: with Redis gone, sessions ended meanwhile stay usable until
 * their access tokens expire (15 minutes at most), as before this existed. That is counted and logged.
 */
import { createRedisClient, type RedisClient } from '../clients/redis';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { ACCESS_TOKEN_TTL_SECONDS } from './jwt';

export interface RevocationKeys {
  /** Sorted set: session id → epoch ms until which its tokens could still be presented. */
  set: string;
  channel: string;
}

export function revocationKeys(namespace: string): RevocationKeys {
  const p = namespace ? `${namespace}:` : '';
  return { set: `${p}sessions:revoked`, channel: `${p}sessions:revoked` };
}

export interface RevokedSessionsOptions {
  /** Commands (ZADD, PUBLISH, the reload). */
  redis: RedisClient;
  /** Where to open the subscriber connection (it can do nothing else). */
  subscriber: { url: string; clusterNodes?: string[]; connectionName: string };
  keys: RevocationKeys;
  /** How long a revoked session must be remembered: the access tokens' lifetime (and a margin). */
  rememberMs: number;
  logger: Logger;
  metrics?: Metrics;
}

/**
 * A service's view of ended sessions, with the platform's settings: remembered for the access tokens'
 * lifetime (and a minute's margin), on a subscriber connection of its own named after the service.
 */
export function serviceRevokedSessions(o: {
  redis: RedisClient;
  redisUrl: string;
  clusterNodes?: string[];
  namespace: string;
  service: string;
  logger: Logger;
  metrics?: Metrics;
}): RevokedSessions {
  return new RevokedSessions({
    redis: o.redis,
    subscriber: { url: o.redisUrl, clusterNodes: o.clusterNodes, connectionName: `orders-${o.service}-sessions` },
    keys: revocationKeys(o.namespace),
    rememberMs: (ACCESS_TOKEN_TTL_SECONDS + 60) * 1000,
    logger: o.logger,
    metrics: o.metrics,
  });
}

export class RevokedSessions {
  private readonly until = new Map<string, number>();
  private pruneAt = 1_024;
  private readonly listeners: ((sessionId: string) => void)[] = [];
  private sub: RedisClient | undefined;
  private readonly revoked;
  private readonly redis: RedisClient;
  private readonly subscriber: RevokedSessionsOptions['subscriber'];
  private readonly keys: RevocationKeys;
  private readonly rememberMs: number;
  private readonly logger: Logger;

  constructor({ redis, subscriber, keys, rememberMs, logger, metrics }: RevokedSessionsOptions) {
    this.redis = redis;
    this.subscriber = subscriber;
    this.keys = keys;
    this.rememberMs = rememberMs;
    this.logger = logger;
    this.revoked = metrics?.counter('auth_sessions_revoked_total', 'Sessions ended (logout, refresh-token reuse) as learnt', ['source']);
  }

  /** Subscribes, then loads what is already ended (again on every reconnect). */
  start(): void {
    const sub = createRedisClient({ ...this.subscriber, commandTimeoutMs: 0 });
    this.sub = sub;
    sub.on('ready', () => {
      sub
        .subscribe(this.keys.channel)
        .then(() => this.reload())
        .catch((err) =>
          this.logger.warn(
            { err },
            'session revocations: subscribe or reload failed; ended sessions may be honoured until their tokens expire',
          ),
        );
    });
    sub.on('message', (channel: string, text: string) => {
      if (channel !== this.keys.channel) return;
      const [sessionId, until] = text.split(' ');
      if (sessionId) this.learn(sessionId, Number(until), 'channel');
    });
    sub.on('error', () => {});
  }

  /** Whether the session was ended (and its tokens could still be around). */
  has(sessionId: string, now = Date.now()): boolean {
    const until = this.until.get(sessionId);
    if (until === undefined) return false;
    if (until > now) return true;
    this.until.delete(sessionId);
    return false;
  }

  /** Called with each session id as it is learnt to be ended (the edge closes its sockets). */
  onRevoked(listener: (sessionId: string) => void): void {
    this.listeners.push(listener);
  }

  /** Ends a session everywhere: stored for processes that reconnect later, published for those listening. */
  async revoke(sessionId: string, now = Date.now()): Promise<void> {
    const until = now + this.rememberMs;
    this.learn(sessionId, until, 'local');
    const { redis, keys } = this;
    await redis.zadd(keys.set, until, sessionId);
    await redis.zremrangebyscore(keys.set, '-inf', now);
    await redis.publish(keys.channel, `${sessionId} ${until}`);
  }

  async close(): Promise<void> {
    await this.sub?.quit().catch(() => this.sub?.disconnect());
  }

  private async reload(): Promise<void> {
    const now = Date.now();
    const entries = await this.redis.zrangebyscore(this.keys.set, now, '+inf', 'WITHSCORES');
    for (let i = 0; i + 1 < entries.length; i += 2) this.learn(entries[i] as string, Number(entries[i + 1]), 'reload');
  }

  private learn(sessionId: string, rawUntil: number, source: 'channel' | 'reload' | 'local'): void {
    const now = Date.now();
    if (!Number.isFinite(rawUntil) || rawUntil <= now) return;
    // No token outlives rememberMs from now: a later `until` (a bad message) would never be pruned.
    const until = Math.min(rawUntil, now + this.rememberMs);
    // Bounded by the sessions ended within one token lifetime: expired ones go as the map grows.
    if (this.until.size >= this.pruneAt) {
      for (const [id, t] of this.until) if (t <= now) this.until.delete(id);
      this.pruneAt = Math.max(1_024, this.until.size * 2);
    }
    const known = this.until.get(sessionId);
    if (known !== undefined && known >= until) return;
    this.until.set(sessionId, until);
    this.revoked?.inc({ source });
    for (const listener of this.listeners) listener(sessionId);
  }
}
