/**
 * Puts a stage together: its pipeline, its router, and its two consumers (the stage's topics and its
 * retry topic), each in its own consumer group. Used by the workers process and by the tests alike.
 */

import type { EventCodec } from '@orders/contracts';
import { namespaced } from '@orders/contracts';
import type { Logger, Sql, StatusFeedPublisher } from '@orders/platform';
import { createConsumer, type DeliveringProducer, type KafkaSettings } from './kafka';
import { Pipeline } from './pipeline';
import { Router } from './routing';
import { type StageMetrics, StageRunner } from './runner';
import type { Stage } from './stage';

export interface StageDeps {
  sql: Sql;
  codec: EventCodec;
  producer: DeliveringProducer;
  feed: StatusFeedPublisher;
  logger: Logger;
  metrics: StageMetrics;
  kafka: KafkaSettings;
  namespace: string;
  batchSize: number;
  maxBuffered: number;
  concurrentBatches: number;
  consumeTimeoutMs: number;
  maxRetries: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

export async function assembleStage(stage: Stage, d: StageDeps): Promise<StageRunner[]> {
  const runners: StageRunner[] = [];
  const log = d.logger.child({ stage: stage.name });
  const isStopping = () => runners.some((r) => r.isStopping);
  const router = new Router({
    producer: d.producer,
    group: stage.group,
    stage: stage.name,
    namespace: d.namespace,
    logger: log,
    maxRetries: d.maxRetries,
    retryBaseMs: d.retryBaseMs,
    retryMaxMs: d.retryMaxMs,
    isStopping,
  });
  const pipeline = new Pipeline(
    stage,
    {
      sql: d.sql,
      codec: d.codec,
      producer: d.producer,
      feed: d.feed,
      logger: log,
      namespace: d.namespace,
      isStopping,
      observePhase: (phase, seconds) => d.metrics.phase.observe({ stage: stage.name, phase }, seconds),
    },
    router,
  );
  for (const mode of ['main', 'retry'] as const) {
    const consumer = await createConsumer(d.kafka, namespaced(StageRunner.groupFor(stage, mode), d.namespace));
    runners.push(
      new StageRunner(stage, consumer, pipeline, {
        mode,
        namespace: d.namespace,
        batchSize: d.batchSize,
        maxBuffered: d.maxBuffered,
        concurrentBatches: d.concurrentBatches,
        consumeTimeoutMs: d.consumeTimeoutMs,
        logger: d.logger,
        metrics: d.metrics,
      }),
    );
  }
  return runners;
}
