/**
 * The workers' shutdown sequence: stop fetching and finish the batches in flight (each stage commits
 * what it stored and leaves its group), flush the producer, then close clients and the HTTP side.
 */
import type { Server } from 'node:http';
import { createShutdown, type Logger, type RedisClient, type Shutdown, type Sql } from '@orders/platform';
import type { DeliveringProducer } from './runtime/kafka';
import type { StageRunner } from './runtime/runner';

export function workersShutdown(opts: {
  logger: Logger;
  timeoutMs: number;
  runners: StageRunner[];
  producer: DeliveringProducer;
  redis: RedisClient;
  sql: Sql;
  http: Server;
  scorer: { close(): Promise<void> };
  /** The webhook sender: stops claiming, records the attempts in flight. */
  sender?: { stop(): Promise<void> };
}): Shutdown {
  const s = createShutdown({ logger: opts.logger, timeoutMs: opts.timeoutMs });
  s.add('drain stages and commit', async () => {
    await Promise.all(opts.runners.map((r) => r.stop()));
  });
  s.add('stop the scoring pool', () => opts.scorer.close());
  s.add('finish webhook attempts in flight', async () => opts.sender?.stop());
  s.add('flush producer', () => opts.producer.flush(5_000));
  s.add('disconnect producer', () => opts.producer.disconnect());
  s.add('close redis', async () => void (await opts.redis.quit()));
  s.add('close postgres', () => opts.sql.end({ timeout: 5 }));
  s.add('close http', () => new Promise<void>((resolve) => opts.http.close(() => resolve())));
  s.add('flush logs', () => new Promise<void>((resolve) => opts.logger.flush(() => resolve())));
  return s;
}
