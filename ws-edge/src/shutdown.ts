/**
 * The edge's shutdown sequence: refuse new sockets (readiness fails, upgrades answer 503), tell every
 * client to reconnect elsewhere (1012) and give back its connection slot, stop the server, then close
 * the Redis connections.
 */
import { createShutdown, type Logger, type RedisClient, type Shutdown } from '@orders/platform';
import { CloseCodes } from './protocol';
import type { Edge } from './server';

export function edgeShutdown(opts: {
  logger: Logger;
  timeoutMs: number;
  edge: Edge;
  /** The revoked-sessions listener (its own subscriber connection). */
  sessions: { close(): Promise<void> };
  subscriber: RedisClient;
  redis: RedisClient;
}): Shutdown {
  const s = createShutdown({ logger: opts.logger, timeoutMs: opts.timeoutMs });
  s.add('tell clients to reconnect elsewhere and stop', () => drain(opts.edge));
  s.add('close redis', async () => {
    await opts.sessions.close();
    await opts.subscriber.quit().catch(() => opts.subscriber.disconnect());
    await opts.redis.quit().catch(() => opts.redis.disconnect());
  });
  s.add('flush logs', () => new Promise<void>((resolve) => opts.logger.flush(() => resolve())));
  return s;
}

/** Stops accepting, tells every client to reconnect elsewhere, closes. */
async function drain({ server, sockets, slots }: Edge) {
  sockets.draining = true;
  slots.stopHeartbeat();
  for (const ws of sockets.all) {
    slots.release(ws);
    sockets.close(ws, CloseCodes.restarting, 'edge restarting; reconnect');
  }
  await server.stop(true);
  // The slots' releases still on their way to Redis: the connection closes next.
  await slots.settled();
}
