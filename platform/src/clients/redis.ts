/**
 * Redis through ioredis. Commands fail fast when Redis is away (bounded retries, no unbounded offline
 * queue), so callers can apply their own policy (fail open, fail closed) instead of hanging.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export { Cluster, Redis } from 'ioredis';

/** A single Redis or a Redis Cluster: what the services hold (REDIS_CLUSTER_NODES chooses). */
export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  url: string;
  connectionName: string;
  /** Per-command timeout; a stuck Redis never stalls a request longer than this. 0: none (subscribers). */
  commandTimeoutMs?: number;
  /** For subscriber connections, which must stay in subscribe mode. */
  extra?: RedisOptions;
  onError?: (err: Error) => void;
}

export function createRedis(opts: RedisClientOptions): Redis {
  const client = new Redis(opts.url, {
    connectionName: opts.connectionName,
    connectTimeout: 2_000,
    commandTimeout: opts.commandTimeoutMs === 0 ? undefined : (opts.commandTimeoutMs ?? 1_000),
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true,
    // Reconnect with a capped backoff, forever: Redis coming back must heal the service without a restart.
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
    ...opts.extra,
  });
  // Connection errors surface as failed commands where the caller decides (fail open, fail closed);
  // without a listener ioredis would also print each reconnect attempt to stderr.
  client.on('error', opts.onError ?? (() => {}));
  return client;
}

/**
 * A Redis Cluster client when `clusterNodes` (host:port seeds) are given, else a single Redis at `url`.
 * Every key the services use is hash-tagged per subject or user, so each script and pipeline stays in
 * one slot; pub/sub channels are cluster-wide.
 */
export function createRedisClient(opts: RedisClientOptions & { clusterNodes?: string[] }): RedisClient {
  const nodes = (opts.clusterNodes ?? []).filter(Boolean);
  if (nodes.length === 0) return createRedis(opts);
  // The Cluster's credentials come from REDIS_URL's user info, as for a single Redis.
  const { username, password, protocol } = new URL(opts.url);
  const client = new Cluster(
    nodes.map((n) => {
      const [host, port] = n.split(':');
      return { host: host as string, port: Number(port ?? 6379) };
    }),
    {
      enableAutoPipelining: true,
      clusterRetryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
      redisOptions: {
        connectionName: opts.connectionName,
        connectTimeout: 2_000,
        commandTimeout: opts.commandTimeoutMs === 0 ? undefined : (opts.commandTimeoutMs ?? 1_000),
        maxRetriesPerRequest: 2,
        ...(username ? { username: decodeURIComponent(username) } : {}),
        ...(password ? { password: decodeURIComponent(password) } : {}),
        ...(protocol === 'rediss:' ? { tls: {} } : {}),
        ...opts.extra,
      },
    },
  );
  client.on('error', opts.onError ?? (() => {}));
  return client;
}
