/**
 * Puts a stage together: its pipeline, its router, and its two consumers (the stage's topics and its
 * retry topic), each in its own consumer group. Used by the workers process and by the tests alike.
 */

import type { EventCodec } from '@orders/contracts';
import { namespaced } from '@orders/contracts';
import type { Logger, Sql, StatusFeedPublisher } from '@orders/platform';
import { createConsumer, type DeliveringProducer, type KafkaSettings } from './kafka';
import type { StageMetrics } from './metrics';
import { Pipeline } from './pipeline';
import { Router } from './routing';
import { StageRunner } from './runner';
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

export async function assembleStage(stage: Stage, deps: StageDeps): Promise<StageRunner[]> {
  const runners: StageRunner[] = [];
  const log = deps.logger.child({ stage: stage.name });
  const isStopping = () => runners.some((r) => r.isStopping);
  const router = new Router({
    producer: deps.producer,
    group: stage.group,
    stage: stage.name,
    namespace: deps.namespace,
    logger: log,
    maxRetries: deps.maxRetries,
    retryBaseMs: deps.retryBaseMs,
    retryMaxMs: deps.retryMaxMs,
    isStopping,
  });
  const pipeline = new Pipeline(
    stage,
    {
      sql: deps.sql,
      codec: deps.codec,
      producer: deps.producer,
      feed: deps.feed,
      logger: log,
      namespace: deps.namespace,
      isStopping,
      observePhase: (phase, seconds) => deps.metrics.phase.observe({ stage: stage.name, phase }, seconds),
    },
    router,
  );
  for (const mode of ['main', 'retry'] as const) {
    const consumer = await createConsumer(deps.kafka, namespaced(StageRunner.groupFor(stage, mode), deps.namespace));
    runners.push(
      new StageRunner(stage, consumer, pipeline, {
        mode,
        namespace: deps.namespace,
        batchSize: deps.batchSize,
        maxBuffered: deps.maxBuffered,
        concurrentBatches: deps.concurrentBatches,
        consumeTimeoutMs: deps.consumeTimeoutMs,
        logger: deps.logger,
        metrics: deps.metrics,
      }),
    );
  }
  return runners;
}
