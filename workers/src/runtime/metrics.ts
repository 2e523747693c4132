/** The stage runtime's metrics: messages by outcome, batch time and size per phase, lag, batch failures. */
import type { Metrics } from '@orders/platform';

export function stageMetrics(metrics: Metrics) {
  return {
    processed: metrics.counter('worker_messages_total', 'Messages by stage and outcome', ['stage', 'outcome']),
    latency: metrics.histogram('worker_batch_seconds', 'Time to process one batch', ['stage']),
    batchSize: metrics.histogram('worker_batch_size', 'Messages per batch', ['stage'], [1, 2, 5, 10, 20, 50, 100, 200, 500]),
    phase: metrics.histogram('worker_batch_phase_seconds', 'Time of one batch spent in each phase (prepare, apply, emit)', [
      'stage',
      'phase',
    ]),
    // Set by lag.ts every few seconds for each assigned partition, batches or not; a revoked partition's series goes.
    lag: metrics.gauge(
      'worker_consumer_lag',
      'Messages of an assigned partition the stage has not processed yet: broker high watermark minus its next offset',
      ['stage', 'topic', 'partition'],
    ),
    batchFailures: metrics.counter(
      'worker_batch_failures_total',
      'Batches that failed as a whole and are tried again in place (mostly a dependency outage: database, provider)',
      ['stage'],
    ),
  };
}

export type StageMetrics = ReturnType<typeof stageMetrics>;
