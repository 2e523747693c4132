/**
 * The gateway's shutdown sequence: stop taking requests (readiness fails first so a load balancer
 * drains us), let in-flight requests finish, publish what the outbox holds, then disconnect.
 */
import { createShutdown, type Logger, type Shutdown } from '@orders/platform';
import type { Server } from 'bun';
import type { GatewayDeps } from './deps';

export function gatewayShutdown(opts: {
  logger: Logger;
  timeoutMs: number;
  server: () => Server<unknown> | undefined;
  deps: GatewayDeps;
  inflight: { value: number };
  stopMaintenance: () => Promise<void>;
  stopPipelineWatch: () => Promise<void>;
  stopIndexer: () => Promise<void>;
}): Shutdown {
  const s = createShutdown({ logger: opts.logger, timeoutMs: opts.timeoutMs });
  s.add('stop accepting and drain requests', async () => {
    const server = opts.server();
    if (!server) return;
    // stop(false) refuses new connections but would also wait for idle keep-alive connections to time
    // out; wait for the requests actually in flight instead (bounded), then close what is left.
    void server.stop(false);
    const deadline = Date.now() + Math.max(1_000, opts.timeoutMs / 2);
    while (opts.inflight.value > 0 && Date.now() < deadline) await Bun.sleep(10);
    if (opts.inflight.value > 0) opts.logger.warn({ inflight: opts.inflight.value }, 'requests still in flight at the drain deadline');
    await server.stop(true);
  });
  s.add('finish order writes', () => opts.deps.writer.idle());
  s.add('stop the outbox publisher', () => opts.deps.outbox.stop());
  s.add('stop maintenance', opts.stopMaintenance);
  s.add('stop the pipeline watch', opts.stopPipelineWatch);
  s.add('stop the dead-letter indexer', opts.stopIndexer);
  s.add('disconnect kafka', async () => {
    await opts.deps.kafka.closeAdmin();
    await opts.deps.kafka.producer.disconnect();
  });
  s.add('close redis', async () => {
    await opts.deps.cacheFeed.close();
    await opts.deps.sessions.close();
    await opts.deps.redis.quit().catch(() => opts.deps.redis.disconnect());
  });
  s.add('close postgres', () => opts.deps.sql.end({ timeout: 5 }));
  s.add('flush logs', () => new Promise<void>((resolve) => opts.logger.flush(() => resolve())));
  return s;
}
