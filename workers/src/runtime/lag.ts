/**
 * One runner's consumer lag (`orders_worker_consumer_lag{stage,topic,partition}`), measured on a timer
 * rather than after each batch, so that a stalled stage (its batch failing as a whole and tried again in
 * place while a dependency is down) shows its lag growing instead of freezing it. Every few seconds, for
 * each partition assigned to the runner's consumer:
 *
 *   lag = the broker's high watermark − the next offset the stage will process there
 *
 * The high watermark is asked of the broker (`queryWatermarkOffsets`, a round trip): the watermark cached
 * from fetches stops moving once the runner stops fetching (backpressure while its batch is stuck).
 *
 * The next offset is the one this runner last stored for the partition (its last processed message + 1:
 * recorded as it stores, no broker call), or, when it has stored nothing there since the partition was
 * assigned, the group's committed offset (`committed`: where the consumer started and would start again),
 * or, with nothing committed, the low watermark (`auto.offset.reset=earliest`). Not `position()`: that is
 * the offset after the last message handed to the runner, which fetches up to KAFKA_MAX_BUFFERED messages
 * ahead of what it has processed (a stalled stage's position runs that far ahead of its work), and it is
 * INVALID after an assignment until the first message arrives: a stage stuck from the start would show none.
 *
 * A revoked partition loses its series at once: its new owner reports it, and a value frozen in the old
 * owner would keep ConsumerLagHigh's max across replicas up after the new owner drained the partition.
 * A tick that a rebalance overtakes is dropped (the next one reads the new assignment). Ticks never
 * overlap (the next is scheduled when one ends), their partitions are queried one at a time (a consumer
 * holds at most one thread-pool thread for this) and each round trip is bounded.
 */
import type { Logger } from '@orders/platform';
import type Kafka from 'node-rdkafka';
import type { StageMetrics } from './metrics';
import { partitionKey } from './partition-queues';

/** How often a runner measures its lag unless told otherwise. */
export const LAG_INTERVAL_MS = 5_000;
/** Bound of each broker round trip of a measurement. */
const QUERY_TIMEOUT_MS = 2_000;

/** What the sampler uses of the consumer (a fake in the runner's tests). */
export type LagConsumer = Pick<Kafka.KafkaConsumer, 'assignments' | 'queryWatermarkOffsets' | 'committed'>;

export interface LagOptions {
  /** The runner's `stage` label (`payment`, `payment.retry`). */
  label: string;
  gauge: StageMetrics['lag'];
  logger: Logger;
  intervalMs?: number;
}

export class LagSampler {
  /** Next offset to process per partition (`topic/partition`), as stored since it was assigned. */
  private readonly next = new Map<string, number>();
  /** Series this sampler has set, to drop them on revoke and stop. */
  private readonly series = new Map<string, Kafka.TopicPartition>();
  private readonly label: string;
  private readonly gauge: StageMetrics['lag'];
  private readonly log: Logger;
  private readonly intervalMs: number;
  /** Bumped by every rebalance: a tick that sees it change mid-way is dropped. */
  private generation = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private tick: Promise<void> | undefined;
  private stopped = false;
  private failing = false;

  constructor(
    private readonly consumer: LagConsumer,
    { label, gauge, logger, intervalMs = LAG_INTERVAL_MS }: LagOptions,
  ) {
    this.label = label;
    this.gauge = gauge;
    this.log = logger;
    this.intervalMs = intervalMs;
  }

  /** The runner stored `offset` (the next to process) for a partition: a map entry, nothing more. */
  stored(topic: string, partition: number, offset: number): void {
    this.next.set(partitionKey({ topic, partition }), offset);
  }

  /** Partitions assigned or revoked: what was known of them is forgotten; revoked ones lose their series. */
  rebalanced(partitions: Kafka.TopicPartition[], revoked: boolean): void {
    this.generation += 1;
    for (const tp of partitions) {
      const key = partitionKey(tp);
      this.next.delete(key);
      if (revoked) this.drop(key);
    }
  }

  start(): void {
    // The first tick at a random point of the interval: a workers process runs a dozen consumers.
    this.schedule(Math.random() * this.intervalMs);
  }

  /** No tick after this one resolves; the one in flight is waited for, and every series dropped. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.tick;
    for (const key of [...this.series.keys()]) this.drop(key);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick = this.sample()
        .catch((err) => this.failed(err))
        .finally(() => {
          this.tick = undefined;
          this.schedule(this.intervalMs);
        });
    }, delayMs);
    // The runner's loop keeps the process alive, not this timer.
    this.timer.unref();
  }

  private async sample(): Promise<void> {
    const generation = this.generation;
    const current = () => !this.stopped && this.generation === generation;
    const assigned = this.consumer.assignments().map(({ topic, partition }) => ({ topic, partition }));
    if (assigned.length === 0) return;
    const unknown = assigned.filter((tp) => !this.next.has(partitionKey(tp)));
    const committed = unknown.length > 0 ? await this.committed(unknown) : new Map<string, number>();
    for (const tp of assigned) {
      if (!current()) return;
      const { lowOffset, highOffset } = await this.watermarks(tp);
      if (!current()) return;
      const key = partitionKey(tp);
      // Read after the round trip: an offset stored meanwhile counts (a lag below 0 is that race: 0).
      const start = this.next.get(key) ?? committed.get(key);
      if (start === undefined) continue;
      this.gauge.set(
        { stage: this.label, topic: tp.topic, partition: String(tp.partition) },
        Math.max(0, highOffset - Math.max(start, lowOffset)),
      );
      this.series.set(key, tp);
    }
    if (this.failing) this.log.info('consumer lag measured again');
    this.failing = false;
  }

  /** Committed offsets (below 0: none committed, so the stage starts at the low watermark). */
  private committed(tps: Kafka.TopicPartition[]): Promise<Map<string, number>> {
    return new Promise((resolve, reject) => {
      this.consumer.committed(tps, QUERY_TIMEOUT_MS, (err, offsets) => {
        if (err) reject(err);
        else resolve(new Map(offsets.map((o) => [partitionKey(o), o.offset < 0 ? Number.NEGATIVE_INFINITY : o.offset])));
      });
    });
  }

  private watermarks(tp: Kafka.TopicPartition): Promise<Kafka.WatermarkOffsets> {
    return new Promise((resolve, reject) => {
      this.consumer.queryWatermarkOffsets(tp.topic, tp.partition, QUERY_TIMEOUT_MS, (err, offsets) =>
        err ? reject(err) : resolve(offsets),
      );
    });
  }

  /** A failed measurement keeps the last values (the broker or the group is unreachable): logged once. */
  private failed(err: unknown): void {
    if (this.failing) {
      this.log.debug({ err }, 'consumer lag not measured');
      return;
    }
    this.failing = true;
    this.log.warn({ err }, 'consumer lag not measured (the last values stay); trying again every interval');
  }

  private drop(key: string): void {
    const tp = this.series.get(key);
    if (!tp) return;
    this.gauge.remove({ stage: this.label, topic: tp.topic, partition: String(tp.partition) });
    this.series.delete(key);
  }
}
