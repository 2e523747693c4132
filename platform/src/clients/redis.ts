/**
 * Redis through ioredis. Commands fail fast when Redis is away (bounded retries, no unbounded offline
 * queue), so callers can apply their own policy (fail open, fail closed) instead of hanging.
 */
import { Redis, type RedisOptions } from 'ioredis';

export { Redis } from 'ioredis';

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
