/**
 * Retention: what the platform deletes, and the proof each deletion waits for. Runs in every gateway
 * (plain bounded deletes, safe side by side), every RETENTION_INTERVAL_MS.
 *
 * - **Dedup records** (`processed_events`, with the outputs they recorded): a stage needs the record of an
 *   event for as long as the event can still reach it. An event reaches a stage again in three ways: its
 *   message is redelivered (only from the stage's committed offset onwards, on its input topic or its retry
 *   topic); the stage upstream re-emits it (same id) when its own input is redelivered; or the outbox
 *   sends a row again (a crash between Kafka's ack and the row's deletion). So records processed before
 *   `now − DEDUP_MIN_AGE_MS − DEDUP_RESEND_WINDOW_MS` go only once **every** stage's consumers (main and
 *   retry) have committed every message older than `now − DEDUP_MIN_AGE_MS` and the outbox holds no
 *   unsent row older than that cut-off; a stage that lags or stopped holds every record back until it has
 *   caught up. The re-send window also absorbs clock skew between PostgreSQL (processed_at), the gateways
 *   and the producers (Kafka timestamps). Offsets that expire are the remaining path: the broker keeps a
 *   group's offsets longer (`offsets.retention.minutes`, 30 days here) than the topics keep messages (7 days),
 *   so a group whose offsets expired only finds messages it never processed.
 * - **Webhook messages** that are finished (succeeded or failed for good), with their attempts, after
 *   WEBHOOK_RETENTION_MS; they are also the fan-out's dedup (one message per endpoint and event), so the
 *   same committed-offset proof is asked of the webhooks stage first.
 * - **Dead letters** indexed for operators (`dead_letters`, raw message included) after
 *   DEAD_LETTER_RETENTION_MS (90 days), replayed or not: the index outlives the dead-letter topics (a
 *   month), so an entry can still be read and replayed after Kafka has dropped its message, and is not
 *   indexed again once removed (its message is gone by then). Only this gateway's namespace.
 * - **Idempotency records** past their expiry (at least 24 h) and **refresh tokens** a day past theirs:
 *   PostgreSQL alone decides those, so they go first and a Kafka outage does not hold them back.
 *
 * Every delete takes at most RETENTION_BATCH rows per statement (short locks, no long transaction), up to
 * RETENTION_MAX_BATCHES per table per run; a backlog drains over several runs.
 */
import { type ConsumerGroup, ConsumerGroups, namespaced, retryConsumerGroup, retryTopic, StageInputs } from '@orders/contracts';
import type { Logger, Metrics, Sql } from '@orders/platform';
import type { Admin } from 'kafkajs';

export interface RetentionOptions {
  namespace: string;
  dedupMinAgeMs: number;
  resendWindowMs: number;
  webhookRetentionMs: number;
  deadLetterRetentionMs: number;
  batch: number;
  maxBatches: number;
}

export interface RetentionReport {
  processedEvents: number;
  webhookMessages: number;
  deadLetters: number;
  idempotencyKeys: number;
  refreshTokens: number;
  /** Stages whose records had to stay: their consumers have not committed past the horizon. */
  waiting: ConsumerGroup[];
}

export class Retention {
  private readonly deleted;
  private readonly waitingStages = new Set<ConsumerGroup>();
  private readonly namespace: string;
  private readonly dedupMinAgeMs: number;
  private readonly resendWindowMs: number;
  private readonly webhookRetentionMs: number;
  private readonly deadLetterRetentionMs: number;
  /** Rows per delete statement, and statements per table per run. */
  private readonly batch: number;
  private readonly maxBatches: number;

  constructor(
    private readonly sql: Sql,
    private readonly admin: () => Promise<Admin>,
    options: RetentionOptions,
    private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.namespace = options.namespace;
    this.dedupMinAgeMs = options.dedupMinAgeMs;
    this.resendWindowMs = options.resendWindowMs;
    this.webhookRetentionMs = options.webhookRetentionMs;
    this.deadLetterRetentionMs = options.deadLetterRetentionMs;
    this.batch = options.batch;
    this.maxBatches = options.maxBatches;
    this.deleted = metrics.counter('retention_deleted_rows_total', 'Rows removed by retention', ['table']);
    metrics.gauge(
      'retention_waiting_stages',
      'Stages whose dedup records wait for their consumers to commit',
      [],
      () => this.waitingStages.size,
    );
  }

  /**
   * Whether the stage's consumers (main and retry) have committed every message older than `before`: for
   * each partition, the committed offset (or, with none, where the group would start: the earliest one
   * kept) is at or past the first message at or after `before`.
   */
  async committedBefore(group: ConsumerGroup, before: number): Promise<boolean> {
    const admin = await this.admin();
    const ns = (name: string) => namespaced(name, this.namespace);
    const consumers = [
      { groupId: ns(group), topic: ns(StageInputs[group]) },
      { groupId: ns(retryConsumerGroup(group)), topic: ns(retryTopic(group)) },
    ];
    for (const { groupId, topic } of consumers) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const kept = await admin.fetchTopicOffsets(topic);
      const firstAfter = await admin.fetchTopicOffsetsByTimestamp(topic, before);
      for (const { partition, offset } of firstAfter) {
        const low = BigInt(kept.find((k) => k.partition === partition)?.low ?? '0');
        const at = BigInt(committed?.partitions.find((p) => p.partition === partition)?.offset ?? '-1');
        if ((at >= 0n ? at : low) < BigInt(offset)) return false;
      }
    }
    return true;
  }

  async run(now = Date.now()): Promise<RetentionReport> {
    const sql = this.sql;
    const batch = this.batch;
    const report: RetentionReport = {
      processedEvents: 0,
      webhookMessages: 0,
      deadLetters: 0,
      idempotencyKeys: 0,
      refreshTokens: 0,
      waiting: [],
    };
    // What needs PostgreSQL alone goes first: a Kafka outage must not stop it.
    report.idempotencyKeys = await this.drain(
      'idempotency_keys',
      () => sql`
        DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT ${batch})`,
    );
    report.refreshTokens = await this.drain(
      'refresh_tokens',
      () => sql`
        DELETE FROM refresh_tokens WHERE ctid IN (
          SELECT ctid FROM refresh_tokens WHERE expires_at < now() - interval '1 day' LIMIT ${batch})`,
    );
    const deadLettersBefore = new Date(now - this.deadLetterRetentionMs);
    report.deadLetters = await this.drain(
      'dead_letters',
      () => sql`
        DELETE FROM dead_letters WHERE id IN (
          SELECT id FROM dead_letters WHERE namespace = ${this.namespace} AND dead_lettered_at < ${deadLettersBefore} LIMIT ${batch})`,
    );
    // Dedup records: a record can be asked for again by a redelivery to its own stage, or by a copy of
    // its event: re-emitted by the stage upstream when that stage's input is redelivered, or re-sent by
    // the outbox. So records go only when every stage (main and retry consumers) has committed past the
    // horizon and the outbox holds nothing older than the cut-off that it may still send.
    const horizon = now - this.dedupMinAgeMs;
    const cutoff = new Date(horizon - this.resendWindowMs);
    for (const group of Object.values(ConsumerGroups)) {
      const caughtUp = await this.committedBefore(group, horizon).catch((err: Error) => {
        this.logger.warn({ stage: group, err: err.message }, 'retention: committed offsets unreadable; records kept');
        return false;
      });
      if (!caughtUp) report.waiting.push(group);
    }
    const [pending] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM (SELECT 1 FROM outbox WHERE last_error IS NULL AND created_at < ${cutoff} LIMIT 1) x`;
    if (report.waiting.length === 0 && (pending?.n ?? 0) === 0) {
      report.processedEvents = await this.drain(
        'processed_events',
        () => sql`
          DELETE FROM processed_events WHERE ctid IN (
            SELECT ctid FROM processed_events WHERE processed_at < ${cutoff} LIMIT ${batch})`,
      );
    }
    const webhookHorizon = now - this.webhookRetentionMs;
    const webhooksCaughtUp = await this.committedBefore(ConsumerGroups.webhooks, webhookHorizon).catch(() => false);
    if (webhooksCaughtUp) {
      const before = new Date(webhookHorizon - this.resendWindowMs);
      // The conditions again outside the sub-select: a message redelivered (set back to pending) meanwhile stays.
      report.webhookMessages = await this.drain(
        'webhook_messages',
        () => sql`
          DELETE FROM webhook_messages WHERE status <> 'pending' AND updated_at < ${before} AND id IN (
            SELECT id FROM webhook_messages WHERE status <> 'pending' AND updated_at < ${before} LIMIT ${batch})`,
      );
    }
    this.noteWaiting(report.waiting);
    return report;
  }

  /** Runs a bounded delete until it removes less than a batch, or the run's share of batches is spent. */
  private async drain(table: string, remove: () => Promise<{ count: number }>): Promise<number> {
    let total = 0;
    for (let i = 0; i < this.maxBatches; i++) {
      const { count } = await remove();
      total += count;
      if (count < this.batch) break;
    }
    if (total > 0) this.deleted.inc({ table }, total);
    return total;
  }

  /** Logs a stage when it starts or stops holding its records back (not on every run). */
  private noteWaiting(waiting: ConsumerGroup[]): void {
    const now = new Set(waiting);
    for (const g of now)
      if (!this.waitingStages.has(g))
        this.logger.warn({ stage: g }, 'dedup records kept: the stage has not committed past the retention horizon');
    for (const g of this.waitingStages) if (!now.has(g)) this.logger.info({ stage: g }, 'dedup retention resumed for the stage');
    this.waitingStages.clear();
    for (const g of now) this.waitingStages.add(g);
  }
}
