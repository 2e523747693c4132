/**
 * The operator's view of the pipeline (#18): the overview and the stuck list (overview.ts), one order as
 * the pipeline sees it (its timeline, the event that moved it into its status and whether the stage
 * waiting on it has processed that event, its dead letters, whether it can be re-driven), and the
 * re-drive itself: the recorded event (recorded.ts) sent again to the waiting stage's retry topic, as
 * the DLQ replay does, due at once and with a fresh retry budget. Kafka's acknowledgement is awaited,
 * then the audit row written; a send Kafka does not acknowledge is a 503 with nothing audited (it may
 * still have arrived: harmless, the stages de-duplicate by event id, which is also why re-driving twice
 * has one effect).
 */
import { DeadLetterHeaders, type EventCodec, EventHeaders, namespaced, RetryHeaders, retryTopic, StageInputs } from '@orders/contracts';
import type { Sql } from '@orders/platform';
import type { Producer } from 'kafkajs';
import { recordAdminAction } from '../../audit';
import { GatewayErrorCodes } from '../../error-codes';
import { DomainError } from '../../errors';
import { DeadLetters } from '../dlq/service';
import type { PipelineOrderView, PipelineOverview, RedriveResultView, StuckPage, StuckQuery } from './model';
import { readOverview, readStuck } from './overview';
import { type HistoryRow, type OrderRow, recordedEvent } from './recorded';
import { eventTypeOf, type StuckThresholds, stageWaitingIn } from './stages';

export interface PipelineOptions {
  sql: Sql;
  producer: Pick<Producer, 'send'>;
  codec: EventCodec;
  namespace: string;
  thresholds: StuckThresholds;
}

const DEAD_LETTERS_SHOWN = 20;
/**
 * How long one read of the overview answers every console: the read scans `orders` (overview.ts), so
 * consoles refreshing every few seconds share one scan per this span however many are open.
 */
const OVERVIEW_SHARED_MS = 2_000;

const notFound = (id: string) =>
  new DomainError('not_found', GatewayErrorCodes.pipelineOrderNotFound, 'Order not found', `No order with id ${id}.`);

export class PipelineService {
  /** The DLQ module's index, for an order's dead letters (listed as that module lists them). */
  private readonly deadLetters: DeadLetters;

  constructor(private readonly options: PipelineOptions) {
    this.deadLetters = new DeadLetters(options.sql, options.producer, options.codec, options.namespace);
  }

  private shared: { at: number; read: Promise<PipelineOverview> } | undefined;

  /** The overview; a read in flight or younger than OVERVIEW_SHARED_MS is shared, a failed one is not kept. */
  overview(): Promise<PipelineOverview> {
    const now = Date.now();
    if (this.shared && now - this.shared.at < OVERVIEW_SHARED_MS) return this.shared.read;
    const read = readOverview(this.options.sql, this.options.thresholds);
    const entry = { at: now, read };
    this.shared = entry;
    read.catch(() => {
      if (this.shared === entry) this.shared = undefined;
    });
    return read;
  }

  stuck(q: StuckQuery): Promise<StuckPage> {
    return readStuck(this.options.sql, this.options.thresholds, q);
  }

  async order(id: string): Promise<PipelineOrderView> {
    const { sql, thresholds } = this.options;
    const [{ order, now }, history, deadLetters] = await Promise.all([
      this.read(id),
      this.history(id),
      this.deadLetters.list({ orderId: id, limit: DEAD_LETTERS_SHOWN }),
    ]);
    const stage = stageWaitingIn(order.status);
    const ageMs = Math.max(0, now.getTime() - order.updated_at.getTime());
    const thresholdMs = stage ? thresholds[stage.stage] : null;
    const last = history.findLast((h) => h.to_status === order.status) ?? history[history.length - 1];
    let lastEvent: PipelineOrderView['lastEvent'] = null;
    if (last?.event_id) {
      const [seen] = stage
        ? await sql`SELECT 1 FROM processed_events WHERE consumer_group = ${stage.group} AND event_id = ${last.event_id}`
        : [];
      lastEvent = {
        eventId: last.event_id,
        eventType: eventTypeOf(last.from_status, last.to_status) ?? 'unknown',
        occurredAt: last.occurred_at.toISOString(),
        processedByNextStage: seen !== undefined,
      };
    }
    const redrive = await recordedEvent(sql, order, history).then(
      (e) => ({ possible: true, eventType: e.type as string | null, reason: null as string | null }),
      (err: unknown) => {
        if (!(err instanceof DomainError)) throw err;
        return { possible: false, eventType: stage?.input ?? null, reason: err.message };
      },
    );
    return {
      order: {
        id: order.id,
        userId: order.user_id,
        status: order.status,
        statusReason: order.status_reason,
        version: order.version,
        revision: order.revision,
        createdAt: order.created_at.toISOString(),
        updatedAt: order.updated_at.toISOString(),
      },
      stage: stage?.stage ?? null,
      ageMs,
      thresholdMs,
      stuck: thresholdMs !== null && ageMs > thresholdMs,
      timeline: history.map((h) => ({
        fromStatus: h.from_status,
        toStatus: h.to_status,
        reason: h.reason,
        version: h.version,
        eventId: h.event_id,
        occurredAt: h.occurred_at.toISOString(),
      })),
      lastEvent,
      deadLetters: deadLetters.items,
      redrive,
    };
  }

  async redrive(actorId: string, id: string, trace?: string): Promise<RedriveResultView> {
    const { sql, codec, namespace } = this.options;
    const [{ order }, history] = await Promise.all([this.read(id), this.history(id)]);
    const event = await recordedEvent(sql, order, history);
    const { group, stage } = event.stage;
    const topic = namespaced(retryTopic(group), namespace);
    const headers: Record<string, string> = {
      [EventHeaders.eventId]: event.eventId,
      [EventHeaders.eventType]: event.type,
      ...(trace ? { [EventHeaders.traceparent]: trace } : {}),
      // A fresh budget, and no not-before time: the retry consumer runs it at once (its clock, not ours).
      [RetryHeaders.attempt]: '0',
      [RetryHeaders.originalTopic]: namespaced(StageInputs[group], namespace),
      [DeadLetterHeaders.redrivenBy]: actorId,
    };
    const value = codec.encode(event.type, event.payload);
    try {
      await this.options.producer.send({ topic, acks: -1, messages: [{ key: order.id, value, headers }] });
    } catch (err) {
      throw new DomainError(
        'unavailable',
        GatewayErrorCodes.pipelineRedriveUnavailable,
        'Re-drive not sent',
        `Kafka did not acknowledge the re-drive (${err instanceof Error ? err.message : 'unknown error'}); nothing was recorded, ` +
          'but the event may have been sent. Try again: a repeat is harmless, the stage de-duplicates by event id.',
        { headers: { 'retry-after': '5' } },
      );
    }
    const redrivenAt = new Date().toISOString();
    await recordAdminAction(sql, actorId, 'order.redriven', order.id, { stage, eventId: event.eventId, eventType: event.type, topic });
    return { orderId: order.id, stage, eventId: event.eventId, eventType: event.type, topic, redrivenAt };
  }

  private async read(id: string): Promise<{ order: OrderRow; now: Date }> {
    const [row] = await this.options.sql<(OrderRow & { now: Date })[]>`
      SELECT id, user_id, status, status_reason, currency, total_cents, payment_method_token, version, revision,
             created_at, updated_at, now() AS now
      FROM orders WHERE id = ${id}`;
    if (!row) throw notFound(id);
    const { now, ...order } = row;
    return { order, now };
  }

  private history(id: string): Promise<HistoryRow[]> {
    return this.options.sql<HistoryRow[]>`
      SELECT from_status, to_status, reason, version, event_id, occurred_at
      FROM order_status_history WHERE order_id = ${id} ORDER BY id`;
  }
}
