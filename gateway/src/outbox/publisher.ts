/**
 * The outbox publisher. Rows committed with an order are sent to Kafka right after the commit (the
 * request path calls `wake()`), and a periodic sweep picks up anything left behind, including rows a
 * crashed instance had claimed: claims are row locks (`FOR UPDATE SKIP LOCKED`) that die with their
 * transaction, so several gateway instances share the work without sending a row twice at once.
 *
 * A row is deleted only after Kafka acknowledged it. A crash between the two re-sends it: duplicates
 * are possible and harmless (consumers de-duplicate on the event id); loss is not.
 *
 * With tracing on, each row's send is a producer span, the child of the request's context the row
 * carries, ended at Kafka's acknowledgement; the message's `traceparent` header is that span's, so the
 * stages that consume it are its children.
 */
import { type EventCodec, EventHeaders, type EventPayloads, type EventType, isEventType } from '@orders/contracts';
import { Attr, type Logger, type Metrics, processTracer, type Span, type Sql, type Tracer } from '@orders/platform';
import type { Producer } from 'kafkajs';

export interface OutboxOptions {
  sql: Sql;
  producer: Producer;
  codec: EventCodec;
  topic: string;
  batchSize: number;
  sweepIntervalMs: number;
  /** How long a wake-up waits for more commits before publishing. */
  lingerMs: number;
  logger: Logger;
  metrics: Metrics;
}

interface OutboxRow {
  id: number;
  event_id: string;
  event_type: string;
  aggregate_id: string;
  payload: unknown;
  headers: Record<string, string>;
}

export class OutboxPublisher {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerDue = 0;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private started = false;
  private failures = 0;
  private readonly published;
  private readonly failed;
  private readonly latency;
  private readonly sql: Sql;
  private readonly producer: Producer;
  private readonly codec: EventCodec;
  private readonly topic: string;
  private readonly batchSize: number;
  private readonly sweepIntervalMs: number;
  private readonly lingerMs: number;
  private readonly logger: Logger;

  constructor(options: OutboxOptions) {
    this.sql = options.sql;
    this.producer = options.producer;
    this.codec = options.codec;
    this.topic = options.topic;
    this.batchSize = options.batchSize;
    this.sweepIntervalMs = options.sweepIntervalMs;
    this.lingerMs = options.lingerMs;
    this.logger = options.logger;
    this.published = options.metrics.counter('outbox_published_total', 'Outbox rows published to Kafka');
    this.failed = options.metrics.counter('outbox_publish_failures_total', 'Outbox batches that failed to publish', ['reason']);
    this.latency = options.metrics.histogram('outbox_commit_to_publish_seconds', 'Time from outbox row commit to Kafka acknowledgement');
  }

  start(): void {
    this.started = true;
    this.schedule(0);
  }

  /** New rows were committed: publish now instead of at the next sweep. */
  wake(): void {
    // Not started (a test's app, a tool): rows wait for a publisher that is. While Kafka or PostgreSQL
    // fails, keep the backoff: every order must not start another failing batch.
    if (!this.started || this.stopped || this.failures > 0) return;
    if (this.running) this.again = true;
    // A short linger lets commits that land together go out in one Kafka request and one claim; an
    // earlier wake-up already pending is kept, a later one (the periodic sweep) is brought forward.
    else if (!this.timer || this.timerDue > Date.now() + this.lingerMs) this.schedule(this.lingerMs);
  }

  /**
   * Finishes the batch in flight, publishes what is left once more, and stops. Whatever still cannot be
   * published stays in the outbox for another instance's sweep or the next start.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (this.started && this.failures === 0) await this.drain(true);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = Date.now() + ms;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.drain().finally(() => {
        this.running = undefined;
        // Back off while Kafka or PostgreSQL fails; otherwise sweep at the regular interval.
        const backoff = this.failures > 0 ? Math.min(this.sweepIntervalMs * 2 ** this.failures, 30_000) : this.sweepIntervalMs;
        this.schedule(this.again && this.failures === 0 ? this.lingerMs : backoff);
        this.again = false;
      });
    }, ms);
  }

  /** Publishes batches until the backlog is empty (or a batch fails, or it stops: unless `final`). */
  private async drain(final = false): Promise<void> {
    try {
      while (final || !this.stopped) {
        const sent = await this.publishBatch();
        this.failures = 0;
        if (sent < this.batchSize) return;
      }
    } catch (err) {
      this.failures += 1;
      this.failed.inc({ reason: 'send' });
      this.logger.warn({ err, failures: this.failures }, 'outbox batch not published; will retry');
    }
  }

  private async publishBatch(): Promise<number> {
    const { sql, producer, codec, topic, batchSize } = this;
    return sql.begin(async (tx) => {
      const rows = await tx<(OutboxRow & { created_at: Date })[]>`
        SELECT id, event_id, event_type, aggregate_id, payload, headers, created_at
        FROM outbox
        WHERE last_error IS NULL
        ORDER BY id
        LIMIT ${batchSize}
        FOR UPDATE SKIP LOCKED`;
      if (rows.length === 0) return 0;
      const messages = [];
      const poison: { id: number; error: string }[] = [];
      const tracer = processTracer();
      const spans: Span[] = [];
      for (const row of rows) {
        const span = tracer.enabled ? sendSpan(tracer, row, topic) : undefined;
        try {
          if (!isEventType(row.event_type)) throw new Error(`unknown event type ${row.event_type}`);
          const type: EventType = row.event_type;
          const value = codec.encode(type, row.payload as EventPayloads[typeof type]);
          // A recorded span is the next hop's parent; otherwise the row's context goes on as it is.
          const trace = span?.recording ? { [EventHeaders.traceparent]: span.traceparent } : {};
          messages.push({
            key: row.aggregate_id,
            value,
            headers: { ...row.headers, ...trace, [EventHeaders.eventId]: row.event_id, [EventHeaders.eventType]: row.event_type },
          });
          if (span) spans.push(span);
        } catch (err) {
          span?.fail(err).end();
          // A row that cannot be encoded is a bug, not a transient failure: set it aside (with the reason)
          // instead of blocking every row behind it: a row with a `last_error` is out of every sweep.
          poison.push({ id: row.id, error: err instanceof Error ? err.message : String(err) });
        }
      }
      try {
        if (messages.length > 0) await producer.send({ topic, messages, acks: -1 });
      } catch (err) {
        for (const span of spans) span.fail(err).end();
        throw err;
      }
      for (const span of spans) span.end();
      const sentIds = rows.filter((r) => !poison.some((p) => p.id === r.id)).map((r) => r.id);
      if (sentIds.length > 0) await tx`DELETE FROM outbox WHERE id IN ${tx(sentIds)}`;
      for (const p of poison) {
        this.failed.inc({ reason: 'encode' });
        this.logger.error({ outboxId: p.id, error: p.error }, 'outbox row cannot be encoded; set aside');
        await tx`UPDATE outbox SET last_error = ${p.error.slice(0, 500)} WHERE id = ${p.id}`;
      }
      const now = Date.now();
      for (const r of rows) if (sentIds.includes(r.id)) this.latency.observe((now - r.created_at.getTime()) / 1000);
      this.published.inc(sentIds.length);
      return rows.length;
    });
  }
}

/** One row's send: a producer span under the request's context the row carries. */
function sendSpan(tracer: Tracer, row: OutboxRow & { created_at: Date }, topic: string): Span {
  return tracer.start(`publish ${row.event_type}`, 'producer', row.headers[EventHeaders.traceparent], {
    [Attr.messagingSystem]: 'kafka',
    [Attr.messagingOperation]: 'send',
    [Attr.messagingDestination]: topic,
    [Attr.messagingMessageId]: row.event_id,
    [Attr.eventType]: row.event_type,
    [Attr.orderId]: row.aggregate_id,
    // How long the row waited in the outbox after its commit.
    'orders.outbox.wait_ms': Date.now() - row.created_at.getTime(),
  });
}
