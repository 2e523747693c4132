/**
 * The dead-letter indexer: a kafkajs consumer in the gateway process (group `orders.dlq-indexer`,
 * shared by every gateway) that reads every stage's dead-letter topic and writes each message to
 * `dead_letters` before its offset is committed. At least once, and idempotent: a message indexed again
 * (redelivered after a crash or a rebalance) hits the unique Kafka coordinates and adds nothing.
 * Switched off with DLQ_INDEXER_ENABLED=false.
 */
import { namespaced } from '@orders/contracts';
import type { Logger, Metrics, Sql } from '@orders/platform';
import { type Consumer, Kafka, logLevel } from 'kafkajs';
import { kafkaLogCreator } from '../outbox/producer';
import { registerLz4 } from './lz4';
import { type DeadLetterRow, toDeadLetterRow } from './record';
import { DLQ_INDEXER_GROUP, deadLetterTopics } from './topics';

export interface IndexerOptions {
  sql: Sql;
  brokers: string[];
  clientId: string;
  namespace: string;
  logger: Logger;
  metrics: Metrics;
}

const COLUMNS = [
  'id',
  'namespace',
  'topic',
  'kafka_partition',
  'kafka_offset',
  'stage',
  'consumer_group',
  'event_id',
  'event_type',
  'order_id',
  'error_code',
  'error_reason',
  'attempts',
  'original_topic',
  'original_partition',
  'original_offset',
  'headers',
  'key',
  'value',
  'dead_lettered_at',
] as const satisfies readonly (keyof DeadLetterRow)[];

/** How long a stop waits for the consumer to leave its group. */
const STOP_TIMEOUT_MS = 5_000;

/** How long the indexer waits after a crash kafkajs does not restart from, before it starts again. */
const CRASH_PAUSE_MS = 5_000;

export class DeadLetterIndexer {
  private readonly consumer: Consumer;
  private readonly indexed;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly opts: IndexerOptions) {
    // The stages' dead letters come LZ4-compressed from their librdkafka producers.
    registerLz4();
    const kafka = new Kafka({
      clientId: `${opts.clientId}-dlq-indexer`,
      brokers: opts.brokers,
      connectionTimeout: 3_000,
      requestTimeout: 10_000,
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator(opts.logger, 'dlq indexer'),
      retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    // A short session: after a gateway dies, the group waits for its member no longer than this before
    // the survivors (or its restart) take its partitions, and a stop never waits out a long join.
    this.consumer = kafka.consumer({
      groupId: namespaced(DLQ_INDEXER_GROUP, opts.namespace),
      allowAutoTopicCreation: false,
      sessionTimeout: 10_000,
      heartbeatInterval: 3_000,
    });
    this.indexed = opts.metrics.counter('dlq_indexed_total', 'Dead-letter messages indexed (new rows)', ['stage']);
    const crashes = opts.metrics.counter('dlq_indexer_crashes_total', 'Times the dead-letter indexer stopped on an error', []);
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      crashes.inc();
      opts.logger.error({ err: payload.error.message, restart: payload.restart }, 'dlq indexer consumer crashed');
      // kafkajs restarts the consumer itself after a retriable error only; after any other (a batch it
      // cannot decode was one: LZ4 before lz4.ts) it stays stopped for good, and nothing was indexed until
      // the gateway restarted. Start again after a pause: offsets are committed only after their rows.
      if (!payload.restart && !this.stopped) this.running = this.restartAfterCrash();
    });
  }

  /**
   * Connects and starts consuming in the background. A start that fails (Kafka unreachable, topics not
   * created yet) is logged and tried again: the gateway serves requests meanwhile.
   */
  start(): void {
    this.running ??= this.startUntilRunning();
  }

  private async startUntilRunning(): Promise<void> {
    for (let delayMs = 1_000; !this.stopped; delayMs = Math.min(delayMs * 2, 30_000)) {
      try {
        await this.run();
        return;
      } catch (err) {
        this.opts.logger.warn({ err, retryInMs: delayMs }, 'dlq indexer could not start; retrying');
        await this.consumer.disconnect().catch(() => {});
        for (let left = delayMs; left > 0 && !this.stopped; left -= 100) await Bun.sleep(Math.min(100, left));
      }
    }
  }

  private async restartAfterCrash(): Promise<void> {
    await this.consumer.disconnect().catch(() => {});
    for (let left = CRASH_PAUSE_MS; left > 0 && !this.stopped; left -= 100) await Bun.sleep(Math.min(100, left));
    await this.startUntilRunning();
  }

  private async run(): Promise<void> {
    const topics = deadLetterTopics(this.opts.namespace);
    const byTopic = new Map(topics.map((t) => [t.topic, t]));
    await this.consumer.connect();
    // From the beginning: a new group (or one whose offsets expired) indexes every dead letter still kept.
    await this.consumer.subscribe({ topics: topics.map((t) => t.topic), fromBeginning: true });
    await this.consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
        const source = byTopic.get(batch.topic);
        if (!source || batch.messages.length === 0 || !isRunning() || isStale()) return;
        const rows = batch.messages.map((m) => toDeadLetterRow(this.opts.namespace, source, batch.partition, m));
        // The whole batch, then its offsets: a failed insert throws, nothing is resolved, and kafkajs
        // restarts the consumer from the last commit. A heartbeat after each chunk keeps a large batch
        // on a slow database from costing the group its member.
        const inserted = await this.insert(rows, heartbeat).catch((err: { code?: string; message?: string }) => {
          // A bare error: postgres.js errors carry the statement's parameters (header values, payloads),
          // and kafkajs logs what eachBatch throws.
          throw new Error(`indexing dead letters failed (${err.code ?? 'no code'}): ${err.message ?? 'unknown error'}`);
        });
        if (inserted > 0) this.indexed.inc({ stage: source.stage }, inserted);
        const last = batch.messages[batch.messages.length - 1];
        if (last) resolveOffset(last.offset);
        await commitOffsetsIfNecessary();
        await heartbeat();
      },
    });
    this.opts.logger.info({ group: namespaced(DLQ_INDEXER_GROUP, this.opts.namespace), topics: topics.length }, 'dlq indexer started');
  }

  private async insert(rows: DeadLetterRow[], afterChunk: () => Promise<void>): Promise<number> {
    const sql = this.opts.sql;
    let inserted = 0;
    for (let i = 0; i < rows.length; i += 200) {
      const chunk = rows.slice(i, i + 200).map((r) => ({ ...r, headers: sql.json(r.headers) }));
      const result = await sql`
        INSERT INTO dead_letters ${sql(chunk as never, ...COLUMNS)}
        ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING`;
      inserted += result.count;
      await afterChunk();
    }
    return inserted;
  }

  /**
   * Stops consuming (the batch in progress finishes and commits) and leaves the group, within
   * STOP_TIMEOUT_MS: a consumer still joining its group (a restarted gateway whose killed predecessor is
   * still a member) must not hold the shutdown. Abandoning it loses nothing: offsets are committed only
   * after their rows are written, so another member (or the next start) indexes the rest.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (!this.running) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const left = await Promise.race([
      this.consumer.disconnect().then(
        () => false,
        (err: unknown) => {
          this.opts.logger.warn({ err }, 'dlq indexer did not disconnect cleanly');
          return false;
        },
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    if (left) this.opts.logger.warn({ timeoutMs: STOP_TIMEOUT_MS }, 'dlq indexer did not leave its group in time; left behind');
  }
}
