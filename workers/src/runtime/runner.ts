/**
 * Runs one stage: consume in batches, process each partition's messages in order (partitions in
 * parallel), and per message
 *
 *   decode → (not ours? acknowledge) → one PostgreSQL transaction: claim the event id in
 *   processed_events + the stage's effect + its outputs → emit the outputs (Kafka, Redis) → store the
 *   offset.
 *
 * Exactly-once effects on an at-least-once stream: a redelivered event finds its processed_events row
 * and only re-emits the outputs recorded there (same event ids, so downstream de-duplicates too).
 * Offsets are stored after the emit, so a crash anywhere re-delivers and never skips.
 *
 * Failures: an undecodable message or a PermanentError goes to the stage's dead-letter topic at once;
 * any other error is retried with exponential backoff and jitter, then dead-lettered. The partition
 * moves on either way: a poison message never blocks it.
 */
import { ContractError, type DecodedEvent, deadLetterTopic, type EventCodec, type EventType, namespaced } from '@orders/contracts';
import { type Logger, type Metrics, type Sql, type StatusFeedPublisher, uuidv7 } from '@orders/platform';
import type Kafka from 'node-rdkafka';
import { consumeBatch, type DeliveringProducer } from './kafka';
import { type Output, PermanentError, type Stage } from './stage';

export interface RunnerDeps {
  sql: Sql;
  codec: EventCodec;
  producer: DeliveringProducer;
  feed: StatusFeedPublisher;
  logger: Logger;
  metrics: StageMetrics;
  namespace: string;
  batchSize: number;
  consumeTimeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
}

export function stageMetrics(metrics: Metrics) {
  return {
    processed: metrics.counter('worker_messages_total', 'Messages handled by outcome', ['stage', 'outcome']),
    latency: metrics.histogram('worker_processing_seconds', 'Decode-to-offset latency of handled messages', ['stage']),
    lag: metrics.gauge('worker_consumer_lag', 'Messages behind the partition high watermark', ['stage', 'topic', 'partition']),
  };
}
export type StageMetrics = ReturnType<typeof stageMetrics>;

type Outcome = 'handled' | 'duplicate' | 'skipped' | 'dead_lettered' | 'abandoned';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class StageRunner {
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly handles: Set<EventType>;

  constructor(
    readonly stage: Stage,
    private readonly consumer: Kafka.KafkaConsumer,
    private readonly d: RunnerDeps,
  ) {
    this.log = d.logger.child({ stage: stage.name });
    this.handles = new Set(stage.handles);
  }

  start(): void {
    this.consumer.setDefaultConsumeTimeout(this.d.consumeTimeoutMs);
    this.consumer.subscribe(this.stage.topics.map((t) => namespaced(t, this.d.namespace)));
    this.loop = this.run();
  }

  isAssigned(): boolean {
    return this.consumer.isConnected() && this.consumer.assignments().length > 0;
  }

  /** Stops fetching, finishes the batch in flight, commits what is done, leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
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
      let batch: Kafka.Message[];
      try {
        batch = await consumeBatch(this.consumer, this.d.batchSize);
      } catch (err) {
        this.log.warn({ err }, 'consume failed; retrying');
        await sleep(500);
        continue;
      }
      if (batch.length === 0) continue;
      const byPartition = new Map<string, Kafka.Message[]>();
      for (const m of batch) {
        const k = `${m.topic}/${m.partition}`;
        const list = byPartition.get(k);
        if (list) list.push(m);
        else byPartition.set(k, [m]);
      }
      try {
        await Promise.all([...byPartition.values()].map((msgs) => this.processPartition(msgs)));
      } catch (err) {
        // Nothing here may kill the loop: what was not stored is delivered again (and de-duplicated).
        this.log.error({ err }, 'batch failed; its unstored messages will be redelivered');
        await sleep(500);
      }
    }
  }

  /**
   * Stores the next offset to commit. After a rebalance took the partition away librdkafka refuses
   * (the partition is not assigned any more): the new owner re-delivers from the last commit, and
   * processed_events makes that harmless.
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

  private async processPartition(messages: Kafka.Message[]): Promise<void> {
    for (const message of messages) {
      const started = performance.now();
      const outcome = await this.processMessage(message);
      if (outcome === 'abandoned') {
        // Shutting down mid-retry: leave this offset (and every later one of the partition) unstored,
        // so the message is delivered again to whoever owns the partition next.
        this.d.metrics.processed.inc({ stage: this.stage.name, outcome });
        return;
      }
      this.d.metrics.processed.inc({ stage: this.stage.name, outcome });
      if (outcome === 'handled' || outcome === 'duplicate')
        this.d.metrics.latency.observe({ stage: this.stage.name }, (performance.now() - started) / 1000);
      // A revoked partition: stop here, the rest of its messages belong to the new owner.
      if (!this.storeOffset(message)) return;
    }
    const last = messages[messages.length - 1];
    if (last) this.updateLag(last);
  }

  private async processMessage(message: Kafka.Message): Promise<Outcome> {
    let lastError: unknown;
    let attempt = 0;
    while (attempt < this.d.maxAttempts) {
      attempt += 1;
      let committed: { duplicate: boolean; outputs: Output[] };
      try {
        if (!message.value) throw new ContractError('CONTRACTS_TRUNCATED', 'message has no value');
        const event = await this.d.codec.decode(message.value);
        if (!this.handles.has(event.type)) return 'skipped';
        committed = await this.applyOnce(event);
      } catch (err) {
        lastError = err;
        if (err instanceof PermanentError || (err instanceof ContractError && !err.retryable)) break;
        if (attempt === this.d.maxAttempts) break;
        if (this.stopping) return 'abandoned';
        const backoff = this.d.retryBaseMs * 2 ** (attempt - 1);
        this.log.warn({ err, attempt, offset: message.offset, partition: message.partition }, 'handler failed; retrying');
        // Full jitter around the exponential step, so a fleet of consumers does not retry in lockstep.
        await sleep(backoff / 2 + Math.random() * backoff);
        continue;
      }
      // The effect is committed: its outputs must go out. A failure to send is not the message's fault and
      // never dead-letters it; keep trying (Kafka or Redis coming back heals it), or leave the offset
      // unstored when stopping so the redelivery re-sends the recorded outputs.
      return (await this.emitUntilDone(committed.outputs)) ? (committed.duplicate ? 'duplicate' : 'handled') : 'abandoned';
    }
    return (await this.deadLetter(message, lastError, attempt)) ? 'dead_lettered' : 'abandoned';
  }

  private async emitUntilDone(outputs: Output[]): Promise<boolean> {
    for (let i = 0; ; i++) {
      try {
        await this.emit(outputs);
        return true;
      } catch (err) {
        if (this.stopping) return false;
        this.log.warn({ err, attempt: i + 1 }, 'emitting committed outputs failed; retrying');
        await sleep(Math.min(this.d.retryBaseMs * 2 ** i, 5_000));
      }
    }
  }

  /** One transaction: claim the event id and apply the stage's effect, or read what a previous delivery recorded. */
  private async applyOnce(event: DecodedEvent): Promise<{ duplicate: boolean; outputs: Output[] }> {
    const { sql, logger } = this.d;
    const eventId = event.payload.eventId;
    const result = await sql.begin(async (tx) => {
      const claimed = await tx`
        INSERT INTO processed_events (consumer_group, event_id, event_type)
        VALUES (${this.stage.group}, ${eventId}, ${event.type})
        ON CONFLICT DO NOTHING
        RETURNING 1`;
      if (claimed.length === 0) {
        const [row] = await tx<{ outputs: Output[] }[]>`
          SELECT outputs FROM processed_events WHERE consumer_group = ${this.stage.group} AND event_id = ${eventId}`;
        return { duplicate: true, outputs: row?.outputs ?? [] };
      }
      const outputs = await this.stage.handle(event, { tx, logger: this.log, newId: uuidv7 });
      if (outputs.length > 0) {
        await tx`UPDATE processed_events SET outputs = ${tx.json(outputs as never)} WHERE consumer_group = ${this.stage.group} AND event_id = ${eventId}`;
      }
      return { duplicate: false, outputs };
    });
    if (result.duplicate) logger.debug({ stage: this.stage.name, eventId }, 'duplicate event; recorded outputs re-emitted');
    return result;
  }

  private async emit(outputs: Output[]): Promise<void> {
    await Promise.all(
      outputs.map(async (o) => {
        if (o.kind === 'feed') {
          await this.d.feed.publish(o.update);
          return;
        }
        const value = this.d.codec.encode(o.type, o.payload);
        await this.d.producer.send(namespaced(o.topic, this.d.namespace), o.key, value, {
          'event-id': o.payload.eventId,
          'event-type': o.type,
        });
      }),
    );
  }

  /** True once the dead letter is durable; false if the process is stopping before it could be written. */
  private async deadLetter(message: Kafka.Message, err: unknown, attempts: number): Promise<boolean> {
    const code = err instanceof ContractError || err instanceof PermanentError ? err.code : 'HANDLER_FAILED';
    const reason = err instanceof Error ? err.message : String(err);
    this.log.error(
      { code, reason, attempts, topic: message.topic, partition: message.partition, offset: message.offset },
      'message dead-lettered',
    );
    const topic = namespaced(deadLetterTopic(this.stage.group), this.d.namespace);
    // Until the dead letter is durable the offset is not stored: the message is never silently dropped.
    for (let i = 0; ; i++) {
      try {
        await this.d.producer.send(topic, message.key?.toString() ?? '', message.value ?? Buffer.alloc(0), {
          'dlq-error-code': code,
          'dlq-error-reason': reason.slice(0, 1000),
          'dlq-stage': this.stage.name,
          'dlq-attempts': String(attempts),
          'dlq-original-topic': message.topic,
          'dlq-original-partition': String(message.partition),
          'dlq-original-offset': String(message.offset),
        });
        return true;
      } catch (sendErr) {
        if (this.stopping) return false;
        this.log.error({ err: sendErr, attempt: i + 1 }, 'dead-letter write failed; retrying');
        await sleep(Math.min(200 * 2 ** i, 5_000));
      }
    }
  }

  private updateLag(message: Kafka.Message): void {
    try {
      const { highOffset } = this.consumer.getWatermarkOffsets(message.topic, message.partition);
      this.d.metrics.lag.set(
        { stage: this.stage.name, topic: message.topic, partition: String(message.partition) },
        Math.max(0, highOffset - message.offset - 1),
      );
    } catch {
      // Watermarks are cached from fetches; none yet is fine.
    }
  }
}
