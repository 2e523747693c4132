/**
 * Runs one stage's consumer: fetch messages into one queue per partition, and work through each queue
 * with its own loop: partitions in parallel, messages of one partition in order and in batches. Fetching
 * goes on while batches are processed, up to a bound on messages held (backpressure: when the database
 * or the pool is slow, the consumer stops fetching instead of piling up work). A batch that fails as a
 * whole (the database is down) is tried again in place, so nothing behind it is stored before it.
 *
 * Two runners per stage: `main` consumes the stage's topics; `retry` consumes its retry topic, holding
 * each message until its not-before time (so a retry never blocks the main topics).
 *
 * Offsets are stored only after an event's effect is committed and its outputs (or its failure) are
 * durably sent on; librdkafka commits stored offsets in the background and once more when stopping.
 * A crash or a rebalance therefore re-delivers, never skips; the pipeline makes re-delivery harmless.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { type ConsumerGroup, namespaced, retryTopic } from '@orders/contracts';
import type { Logger, Metrics } from '@orders/platform';
import Kafka from 'node-rdkafka';
import { consumeBatch } from './kafka';
import type { Outcome, Pipeline } from './pipeline';
import { headerMap, RetryHeaders } from './routing';
import type { Stage } from './stage';
import { untilDone } from './until-done';

export function stageMetrics(metrics: Metrics) {
  return {
    processed: metrics.counter('worker_messages_total', 'Messages by stage and outcome', ['stage', 'outcome']),
    latency: metrics.histogram('worker_batch_seconds', 'Time to process one partition batch', ['stage']),
    batchSize: metrics.histogram('worker_batch_size', 'Messages per partition batch', ['stage'], [1, 2, 5, 10, 20, 50, 100, 200, 500]),
    lag: metrics.gauge('worker_consumer_lag', 'Messages behind the partition high watermark', ['stage', 'topic', 'partition']),
  };
}
export type StageMetrics = ReturnType<typeof stageMetrics>;

export interface RunnerOptions {
  mode: 'main' | 'retry';
  namespace: string;
  /** Most messages per pipeline run (one partition). */
  batchSize: number;
  /** Most messages fetched and not yet done, across partitions. */
  maxBuffered: number;
  consumeTimeoutMs: number;
  logger: Logger;
  metrics: StageMetrics;
}

export class StageRunner {
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly queues = new Map<string, Kafka.Message[]>();
  private readonly draining = new Map<string, Promise<void>>();
  private buffered = 0;
  private waiters: (() => void)[] = [];
  private readonly log: Logger;
  private readonly label: string;

  constructor(
    readonly stage: Stage,
    private readonly consumer: Kafka.KafkaConsumer,
    private readonly pipeline: Pipeline,
    private readonly o: RunnerOptions,
  ) {
    this.label = o.mode === 'main' ? stage.name : `${stage.name}.retry`;
    this.log = o.logger.child({ stage: this.label });
  }

  get name(): string {
    return this.label;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  static groupFor(stage: Stage, mode: 'main' | 'retry'): string {
    return mode === 'main' ? stage.group : `${stage.group}.retry-consumer`;
  }

  start(): void {
    this.consumer.setDefaultConsumeTimeout(this.o.consumeTimeoutMs);
    const topics = this.o.mode === 'main' ? this.stage.topics : [retryTopic(this.stage.group as ConsumerGroup)];
    this.consumer.subscribe(topics.map((t) => namespaced(t, this.o.namespace)));
    // Revoked partitions: drop what was fetched for them and not started (the new owner fetches it again
    // from the committed offset); the batch in flight finishes, and its offsets are refused.
    this.consumer.on('rebalance', (err, assignment) => {
      if (err?.code !== Kafka.CODES.ERRORS.ERR__REVOKE_PARTITIONS) return;
      for (const tp of assignment) this.dropQueue(`${tp.topic}/${tp.partition}`);
    });
    this.loop = this.run();
  }

  isAssigned(): boolean {
    return this.consumer.isConnected() && this.consumer.assignments().length > 0;
  }

  /** Stops fetching, finishes the batch in flight, commits what is done, leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const wake of this.waiters.splice(0)) wake();
    await this.loop;
    try {
      this.consumer.commitSync(null);
    } catch (err) {
      // Nothing stored since the last auto-commit is not an error.
      this.log.debug({ err }, 'final commit had nothing to do');
    }
    // KafkaConsumer.disconnect takes only a callback (the typings also offer a timeout it ignores).
    await new Promise<void>((resolve) => this.consumer.disconnect(() => resolve()));
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      if (this.buffered >= this.o.maxBuffered) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      let batch: Kafka.Message[];
      try {
        batch = await consumeBatch(this.consumer, Math.min(this.o.batchSize, this.o.maxBuffered - this.buffered));
      } catch (err) {
        this.log.warn({ err }, 'consume failed; retrying');
        await sleep(500);
        continue;
      }
      for (const m of batch) {
        const key = `${m.topic}/${m.partition}`;
        const queue = this.queues.get(key);
        if (queue) queue.push(m);
        else this.queues.set(key, [m]);
      }
      this.buffered += batch.length;
      for (const key of this.queues.keys()) if (!this.draining.has(key)) this.draining.set(key, this.drain(key));
    }
    await Promise.all(this.draining.values());
  }

  /** One partition's loop: its queued messages, a batch at a time, in order. */
  private async drain(key: string): Promise<void> {
    try {
      for (;;) {
        const queue = this.queues.get(key);
        if (!queue || queue.length === 0 || this.stopping) return;
        const messages = queue.splice(0, this.o.batchSize);
        try {
          await this.processUntilDone(messages);
        } finally {
          this.buffered -= messages.length;
          for (const wake of this.waiters.splice(0)) wake();
        }
      }
    } finally {
      this.draining.delete(key);
      if (this.queues.get(key)?.length === 0) this.queues.delete(key);
    }
  }

  /**
   * Nothing here may kill the loop, and nothing behind this batch may be stored before it: a batch that
   * fails as a whole is tried again (what it already applied is recognised as processed). Stopping
   * leaves it unstored: redelivered.
   */
  private processUntilDone(messages: Kafka.Message[]): Promise<boolean> {
    return untilDone(() => (this.o.mode === 'main' ? this.processPartition(messages) : this.processRetries(messages)), {
      isStopping: () => this.stopping,
      logger: this.log,
      what: 'a batch',
      baseMs: 500,
      maxMs: 10_000,
    });
  }

  private dropQueue(key: string): void {
    const queue = this.queues.get(key);
    if (!queue) return;
    this.buffered -= queue.length;
    queue.length = 0;
    for (const wake of this.waiters.splice(0)) wake();
  }

  private async processPartition(messages: Kafka.Message[]): Promise<void> {
    const started = performance.now();
    const outcomes = await this.pipeline.run(messages, 1);
    this.account(outcomes);
    this.o.metrics.latency.observe({ stage: this.label }, (performance.now() - started) / 1000);
    this.o.metrics.batchSize.observe({ stage: this.label }, messages.length);
    // Store up to the first abandoned message (shutting down mid-way): it and the rest come again.
    const stop = outcomes.indexOf('abandoned');
    const done = stop === -1 ? messages : messages.slice(0, stop);
    const last = done[done.length - 1];
    if (last) this.storeOffset(last);
    this.updateLag(messages[messages.length - 1] as Kafka.Message);
  }

  /** Retries run one at a time per partition, each no earlier than its not-before time. */
  private async processRetries(messages: Kafka.Message[]): Promise<void> {
    for (const message of messages) {
      const h = headerMap(message);
      const wait = Number(h[RetryHeaders.notBefore] ?? 0) - Date.now();
      for (let left = wait; left > 0 && !this.stopping; left -= 100) await sleep(Math.min(100, left));
      if (this.stopping) return;
      const attempt = Number(h[RetryHeaders.attempt] ?? 1) + 1;
      const outcomes = await this.pipeline.run([message], attempt);
      this.account(outcomes);
      if (outcomes[0] === 'abandoned' || !this.storeOffset(message)) return;
    }
  }

  private account(outcomes: Outcome[]): void {
    const counts = new Map<Outcome, number>();
    for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    for (const [outcome, n] of counts) this.o.metrics.processed.inc({ stage: this.label, outcome }, n);
  }

  /**
   * Stores the next offset to commit. After a rebalance took the partition away librdkafka refuses (the
   * partition is not assigned any more): the new owner re-delivers from the last commit, harmlessly.
   */
  private storeOffset(message: Kafka.Message): boolean {
    try {
      this.consumer.offsetsStore([{ topic: message.topic, partition: message.partition, offset: message.offset + 1 }]);
      return true;
    } catch (err) {
      this.log.info(
        { err, topic: message.topic, partition: message.partition },
        'offset not stored (partition revoked); the new owner re-delivers',
      );
      return false;
    }
  }

  private updateLag(message: Kafka.Message): void {
    try {
      const { highOffset } = this.consumer.getWatermarkOffsets(message.topic, message.partition);
      this.o.metrics.lag.set(
        { stage: this.label, topic: message.topic, partition: String(message.partition) },
        Math.max(0, highOffset - message.offset - 1),
      );
    } catch {
      // Watermarks are cached from fetches; none yet is fine.
    }
  }
}
