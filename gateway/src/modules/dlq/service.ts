/**
 * Dead letters for administrators: list them (newest first, by stage, order or replay state), read one
 * with its headers and decoded payload, and replay one to its stage's retry topic. A replay is recorded
 * once per entry and sent at least once: the row is locked (NOWAIT: a concurrent replay answers 409 at
 * once rather than waiting out the statement timeout), Kafka's acknowledgement awaited, and the replay and
 * its audit row recorded in that same transaction. A failed or timed-out send rolls the record back, yet
 * the message may have reached Kafka (the producer is not idempotent); sending it again is harmless since
 * the stage de-duplicates by event id.
 */
import {
  CARRIED_HEADERS,
  type ConsumerGroup,
  DeadLetterHeaders,
  type EventCodec,
  namespaced,
  RetryHeaders,
  retryTopic,
  StageInputs,
} from '@orders/contracts';
import { PgErrorCodes, pgErrorCode, type Sql } from '@orders/platform';
import type { Producer } from 'kafkajs';
import { recordAdminAction } from '../../audit';
import type { DeadLetterRow } from '../../dlq/record';
import { GatewayErrorCodes } from '../../error-codes';
import { DomainError } from '../../errors';
import { decodeCursor, encodeCursor } from '../orders/pagination';
import type { DeadLetterDetailView, DeadLetterPage, DeadLetterView, ListDeadLettersQuery, ReplayResultView } from './model';

/** A listed entry: the indexed row without its namespace and raw message, plus what the index adds. */
type Row = Omit<DeadLetterRow, 'namespace' | 'headers' | 'key' | 'value'> & {
  indexed_at: Date;
  replayed_at: Date | null;
  replayed_by: string | null;
};

type DetailRow = Row & Pick<DeadLetterRow, 'headers' | 'key' | 'value'>;

const COLUMNS = `id, topic, kafka_partition, kafka_offset::text AS kafka_offset, stage, consumer_group, event_id, event_type,
  order_id, error_code, error_reason, attempts, original_topic, original_partition, original_offset::text AS original_offset,
  dead_lettered_at, indexed_at, replayed_at, replayed_by`;

function view(r: Row): DeadLetterView {
  return {
    id: r.id,
    stage: r.stage,
    consumerGroup: r.consumer_group,
    topic: r.topic,
    partition: r.kafka_partition,
    offset: r.kafka_offset,
    eventId: r.event_id,
    eventType: r.event_type,
    orderId: r.order_id,
    errorCode: r.error_code,
    errorReason: r.error_reason,
    attempts: r.attempts,
    originalTopic: r.original_topic,
    originalPartition: r.original_partition,
    originalOffset: r.original_offset,
    deadLetteredAt: r.dead_lettered_at.toISOString(),
    indexedAt: r.indexed_at.toISOString(),
    replay: r.replayed_at && r.replayed_by ? { replayedAt: r.replayed_at.toISOString(), replayedBy: r.replayed_by } : null,
  };
}

const notFound = (id: string) =>
  new DomainError('not_found', GatewayErrorCodes.dlqNotFound, 'Dead letter not found', `No dead letter with id ${id}.`);

/** A stored header value back to its bytes (the indexer keeps binary values as `base64:…`). */
function headerBytes(value: string): Buffer {
  return value.startsWith('base64:') ? Buffer.from(value.slice(7), 'base64') : Buffer.from(value, 'utf8');
}

export class DeadLetters {
  constructor(
    private readonly sql: Sql,
    private readonly producer: Pick<Producer, 'send'>,
    private readonly codec: EventCodec,
    private readonly namespace: string,
  ) {}

  async list(q: ListDeadLettersQuery): Promise<DeadLetterPage> {
    const sql = this.sql;
    const limit = q.limit ?? 20;
    const after = q.cursor ? this.cursor(q.cursor) : undefined;
    const rows = await sql<Row[]>`
      SELECT ${sql.unsafe(COLUMNS)} FROM dead_letters
      WHERE namespace = ${this.namespace}
        ${q.stage ? sql`AND stage = ${q.stage}` : sql``}
        ${q.orderId ? sql`AND order_id = ${q.orderId.toLowerCase()}` : sql``}
        ${q.replayed === 'true' ? sql`AND replayed_at IS NOT NULL` : q.replayed === 'false' ? sql`AND replayed_at IS NULL` : sql``}
        ${after ? sql`AND (dead_lettered_at, id) < (${after.createdAt}, ${after.id})` : sql``}
      ORDER BY dead_lettered_at DESC, id DESC LIMIT ${limit + 1}`;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(view), nextCursor: rows.length > limit && last ? encodeCursor(last.dead_lettered_at, last.id) : null };
  }

  async get(id: string): Promise<DeadLetterDetailView> {
    const [row] = await this.sql<DetailRow[]>`
      SELECT ${this.sql.unsafe(COLUMNS)}, headers, value FROM dead_letters WHERE id = ${id} AND namespace = ${this.namespace}`;
    if (!row) throw notFound(id);
    const value = row.value ?? Buffer.alloc(0);
    let payload: DeadLetterDetailView['payload'];
    try {
      const event = await this.codec.decode(value);
      payload = { decoded: true, type: event.type, schemaId: event.schemaId, event: event.payload };
    } catch (err) {
      payload = { decoded: false, error: err instanceof Error ? err.message : String(err), base64: value.toString('base64') };
    }
    return { ...view(row), headers: row.headers, payload };
  }

  /**
   * Sends the entry's key, value and event headers to its stage's retry topic with a fresh budget
   * (attempt 0, due now), so only that stage processes it again. Recorded once per entry.
   */
  async replay(actorId: string, id: string): Promise<ReplayResultView> {
    return this.sql.begin(async (tx) => {
      const [row] = await tx<DetailRow[]>`
        SELECT ${tx.unsafe(COLUMNS)}, headers, key, value FROM dead_letters
        WHERE id = ${id} AND namespace = ${this.namespace} FOR UPDATE NOWAIT`.catch((err: unknown) => {
        if (pgErrorCode(err) !== PgErrorCodes.lockNotAvailable) throw err;
        throw new DomainError(
          'conflict',
          GatewayErrorCodes.dlqReplayInProgress,
          'Replay in progress',
          'A replay of this entry is in progress; read the entry again once it has finished.',
        );
      });
      if (!row) throw notFound(id);
      const group = row.consumer_group as ConsumerGroup;
      const topic = namespaced(retryTopic(group), this.namespace);
      if (row.replayed_at && row.replayed_by)
        return { id, alreadyReplayed: true, retryTopic: topic, replayedAt: row.replayed_at.toISOString(), replayedBy: row.replayed_by };
      const headers: Record<string, Buffer | string> = {};
      for (const name of CARRIED_HEADERS) {
        const value = row.headers[name];
        if (value !== undefined) headers[name] = headerBytes(value);
      }
      headers[RetryHeaders.attempt] = '0';
      headers[RetryHeaders.notBefore] = String(Date.now());
      headers[RetryHeaders.originalTopic] = row.original_topic ?? namespaced(StageInputs[group], this.namespace);
      const from = `${row.topic}/${row.kafka_partition}/${row.kafka_offset}`;
      headers[DeadLetterHeaders.replayedFrom] = from;
      try {
        await this.producer.send({ topic, acks: -1, messages: [{ key: row.key, value: row.value, headers }] });
      } catch (err) {
        throw new DomainError(
          'unavailable',
          GatewayErrorCodes.dlqReplayUnavailable,
          'Replay not sent',
          `Kafka did not acknowledge the replay (${err instanceof Error ? err.message : 'unknown error'}); nothing was recorded, ` +
            'but the message may have been sent. Try again: a repeat is harmless, the stage de-duplicates by event id.',
          { headers: { 'retry-after': '5' } },
        );
      }
      const [done] = await tx<{ replayed_at: Date }[]>`
        UPDATE dead_letters SET replayed_at = now(), replayed_by = ${actorId} WHERE id = ${id} RETURNING replayed_at`;
      const replayedAt = (done?.replayed_at ?? new Date()).toISOString();
      await recordAdminAction(tx as unknown as Sql, actorId, 'dlq.replayed', id, {
        stage: row.stage,
        from,
        retryTopic: topic,
        eventId: row.event_id,
        orderId: row.order_id,
      });
      return { id, alreadyReplayed: false, retryTopic: topic, replayedAt, replayedBy: actorId };
    });
  }

  private cursor(cursor: string) {
    try {
      return decodeCursor(cursor);
    } catch {
      throw new DomainError(
        'bad_request',
        GatewayErrorCodes.dlqBadCursor,
        'Invalid cursor',
        'Pass back the nextCursor of a previous page unchanged.',
      );
    }
  }
}
