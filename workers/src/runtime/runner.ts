/**
 * Runs one stage's consumer: fetch messages into one queue per partition, and work through them in
 * batches: messages of one partition in order (a partition is in at most one batch at a time), and a
 * batch of the main topics spanning every partition that has messages waiting, so that under load a
 * batch grows (one transaction, a handful of statements, for many events) instead of the number of
 * transactions. A few batches may be in flight at once, over disjoint partitions, so a slow batch
 * does not hold up the partitions outside it. Fetching goes on while batches are processed, up to a
 * bound on messages held (backpressure: when the database or the pool is slow, the consumer stops
 * fetching instead of piling up work). A batch that fails as a whole (the database is down) is tried
 * again in place, so nothing behind it is stored before it.
 *
 * Two runners per stage: `main` consumes the stage's topics; `retry` consumes its retry topic, holding
 * each message until its not-before time (so a retry never blocks the main topics).
 *
 * Offsets are stored only after an event's effect is committed and its outputs (or its failure) are
 * durably sent on; librdkafka commits stored offsets in the background and once more when stopping.
 * A crash or a rebalance therefore re-delivers, never skips; the pipeline makes re-delivery harmless.
 * Consumer lag is measured on a timer from the broker and the offsets stored (lag.ts), not per batch:
 * a stalled stage's lag keeps growing.
 *
 * A little over 250 lines on purpose: the fetch loop, the batch scheduler and the offset bookkeeping share
 * one consumer's state and its rebalance callbacks; the per-partition queues are already apart
 * (`partition-queues.ts`), and cutting further would pass that state around instead of holding it.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { type ConsumerGroup, namespaced, RetryHeaders, retryConsumerGroup, retryTopic } from '@orders/contracts';
import type { Logger } from '@orders/platform';
import Kafka from 'node-rdkafka';
import { headerMap } from './headers';
import type { Outcome } from './item';
import { consumeBatch } from './kafka';
import { LagSampler } from './lag';
import type { StageMetrics } from './metrics';
import { PartitionQueues, partitionKey } from './partition-queues';
import type { Pipeline } from './pipeline';
import type { Stage } from './stage';
import { untilDone } from './until-done';

export interface RunnerOptions {
  mode: 'main' | 'retry';
  namespace: string;
  /** Most messages per pipeline run (one transaction). */
  batchSize: number;
  /** Main topics: most batches in flight at once, each over partitions no other one has. */
  concurrentBatches: number;
  /** Most messages fetched and not yet done, across partitions. */
  maxBuffered: number;
  consumeTimeoutMs: number;
  logger: Logger;
  metrics: StageMetrics;
  /** How often the consumer lag is measured (lag.ts); 5 s unless told. */
  lagIntervalMs?: number;
}

export class StageRunner {
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly queues = new PartitionQueues();
  private readonly inFlight = new Set<Promise<void>>();
  private waiters: (() => void)[] = [];
  private readonly mode: 'main' | 'retry';
  private readonly namespace: string;
  private readonly batchSize: number;
  private readonly concurrentBatches: number;
  private readonly maxBuffered: number;
  private readonly consumeTimeoutMs: number;
  private readonly metrics: StageMetrics;
  private readonly log: Logger;
  private readonly label: string;
  private readonly lag: LagSampler;

  constructor(
    readonly stage: Stage,
    private readonly consumer: Kafka.KafkaConsumer,
    private readonly pipeline: Pipeline,
    { mode, namespace, batchSize, concurrentBatches, maxBuffered, consumeTimeoutMs, logger, metrics, lagIntervalMs }: RunnerOptions,
  ) {
    this.mode = mode;
    this.namespace = namespace;
    this.batchSize = batchSize;
    this.concurrentBatches = concurrentBatches;
    this.maxBuffered = maxBuffered;
    this.consumeTimeoutMs = consumeTimeoutMs;
    this.metrics = metrics;
    this.label = mode === 'main' ? stage.name : `${stage.name}.retry`;
    this.log = logger.child({ stage: this.label });
    this.lag = new LagSampler(consumer, { label: this.label, gauge: metrics.lag, logger: this.log, intervalMs: lagIntervalMs });
  }

  get name(): string {
    return this.label;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  static groupFor(stage: Stage, mode: 'main' | 'retry'): string {
    return mode === 'main' ? stage.group : retryConsumerGroup(stage.group as ConsumerGroup);
  }

  start(): void {
    const topics = this.mode === 'main' ? this.stage.topics : [retryTopic(this.stage.group as ConsumerGroup)];
    this.consumer.subscribe(topics.map((t) => namespaced(t, this.namespace)));
    // Revoked partitions: drop what was fetched for them and not started (the new owner fetches it again
    // from the committed offset); the batch in flight finishes, and its offsets are refused. Their lag
    // series go too (the new owner reports them).
    this.consumer.on('rebalance', (err, assignment) => {
      const revoked = err?.code === Kafka.CODES.ERRORS.ERR__REVOKE_PARTITIONS;
      if (revoked || err?.code === Kafka.CODES.ERRORS.ERR__ASSIGN_PARTITIONS) this.lag.rebalanced(assignment, revoked);
      if (!revoked) return;
      for (const tp of assignment) if (this.queues.drop(partitionKey(tp))) this.wake();
    });
    this.loop = this.run();
    this.lag.start();
  }

  isAssigned(): boolean {
    return this.consumer.isConnected() && this.consumer.assignments().length > 0;
  }

  /** Stops fetching, finishes the batches in flight, commits what is done, leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await Promise.all([this.loop, this.lag.stop()]);
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
      if (this.queues.buffered >= this.maxBuffered) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      let batch: Kafka.Message[];
      try {
        batch = await consumeBatch(this.consumer, Math.min(this.batchSize, this.maxBuffered - this.queues.buffered), this.consumeTimeoutMs);
      } catch (err) {
        this.log.warn({ err }, 'consume failed; retrying');
        await sleep(500);
        continue;
      }
      this.queues.add(batch);
      this.startBatches();
    }
    await Promise.all(this.inFlight);
  }

  /**
   * Starts batches while fewer than the bound are in flight and some partition that is not in one has
   * messages waiting. The main topics' batch takes messages of every such partition (one transaction
   * for many partitions: under load the batch grows instead of the number of transactions); a retry
   * batch takes one partition's, since it waits out each message's not-before time.
   */
  private startBatches(): void {
    const limit = this.mode === 'main' ? this.concurrentBatches : Number.POSITIVE_INFINITY;
    while (!this.stopping && this.inFlight.size < limit) {
      const { messages, keys } = this.queues.take(this.mode === 'main' ? Number.POSITIVE_INFINITY : 1, this.batchSize);
      if (messages.length === 0) return;
      const running: Promise<void> = this.processUntilDone(messages)
        .then(() => undefined)
        .finally(() => {
          this.inFlight.delete(running);
          this.queues.finish(keys, messages.length);
          this.wake();
          this.startBatches();
        });
      this.inFlight.add(running);
    }
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  /**
   * Nothing here may kill the loop, and nothing behind this batch may be stored before it: a batch that
   * fails as a whole is tried again (what it already applied is recognised as processed). Stopping
   * leaves it unstored: redelivered.
   */
  private processUntilDone(messages: Kafka.Message[]): Promise<boolean> {
    return untilDone(() => (this.mode === 'main' ? this.processBatch(messages) : this.processRetries(messages)), {
      isStopping: () => this.stopping,
      logger: this.log,
      what: 'a batch',
      onFailure: () => this.metrics.batchFailures.inc({ stage: this.label }),
      baseMs: 500,
      // A batch fails as a whole mostly while a dependency is down (outage.ts): try again often enough that
      // the stage is back within ~2 s of the dependency (at 10 s, a 5 s outage cost up to 10 s more).
      maxMs: 2_000,
    });
  }

  private async processBatch(messages: Kafka.Message[]): Promise<void> {
    const started = performance.now();
    const outcomes = await this.pipeline.run(messages, 1);
    this.account(outcomes);
    this.metrics.latency.observe({ stage: this.label }, (performance.now() - started) / 1000);
    this.metrics.batchSize.observe({ stage: this.label }, messages.length);
    // Per partition, store up to its first abandoned message (shutting down mid-way): it and the rest of
    // that partition come again.
    const done = new Map<string, Kafka.Message>();
    const halted = new Set<string>();
    messages.forEach((m, n) => {
      const key = partitionKey(m);
      if (halted.has(key)) return;
      if (outcomes[n] === 'abandoned') halted.add(key);
      else done.set(key, m);
    });
    for (const m of done.values()) this.storeOffset(m);
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
    for (const [outcome, n] of counts) this.metrics.processed.inc({ stage: this.label, outcome }, n);
  }

  /**
   * Stores the next offset to commit (and tells the lag sampler: it is the next offset to process). After
   * a rebalance took the partition away librdkafka refuses (the partition is not assigned any more): the
   * new owner re-delivers from the last commit, harmlessly.
   */
  private storeOffset(message: Kafka.Message): boolean {
    try {
      this.consumer.offsetsStore([{ topic: message.topic, partition: message.partition, offset: message.offset + 1 }]);
      this.lag.stored(message.topic, message.partition, message.offset + 1);
      return true;
    } catch (err) {
      this.log.info(
        { err, topic: message.topic, partition: message.partition },
        'offset not stored (partition revoked); the new owner re-delivers',
      );
      return false;
    }
  }
}
