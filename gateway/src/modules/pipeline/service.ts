/**
 * The operator's view of the pipeline (#18): the overview and the stuck list (overview.ts), one order as
 * the pipeline sees it (its timeline, the event that moved it into its status and whether the stage
 * waiting on it has processed that event, its dead letters, whether it can be re-driven), and the
 * re-drive itself: the recorded event (recorded.ts) sent again to the waiting stage's retry topic, as
 * the DLQ replay does, due at once and with a fresh retry budget. Kafka's acknowledgement is awaited,
 * then the audit row written; a send Kafka does not acknowledge is a 503 with nothing audited (it may
 * still have arrived: harmless, the stages de-duplicate by event id, which is also why re-driving twice
 * has one effect). An order, its history and what is read to find its event come from one snapshot (a
 * REPEATABLE READ READ ONLY transaction), so a projector commit or a customer's edit between two reads
 * cannot make a spurious 409 or an order.placed mixing two revisions.
 */
import { DeadLetterHeaders, type EventCodec, EventHeaders, namespaced, RetryHeaders, retryTopic, StageInputs } from '@orders/contracts';
import { HttpError, type Logger, type Sql } from '@orders/platform';
import type { Producer } from 'kafkajs';
import { recordAdminAction } from '../../audit';
import type { GatewayDeps } from '../../deps';
import type { GatewayEnv } from '../../env';
import { GatewayErrorCodes } from '../../error-codes';
import { DomainError } from '../../errors';
import { DeadLetters } from '../dlq/service';
import type { PipelineOrderView, PipelineOverview, RedriveResultView, StuckPage, StuckQuery } from './model';
import { readOverview, readStuck } from './overview';
import { type HistoryRow, type OrderRow, recordedEvent } from './recorded';
import { SharedRead } from './shared-read';
import { eventTypeOf, type StuckThresholds, stageWaitingIn } from './stages';

export interface PipelineOptions {
  sql: Sql;
  producer: Pick<Producer, 'send'>;
  codec: EventCodec;
  namespace: string;
  thresholds: StuckThresholds;
  logger: Logger;
}

/** The service as a gateway runs it: index.ts shares one between the API and the pipeline watch. */
export function pipelineService(
  env: Pick<GatewayEnv, 'NAMESPACE' | 'pipelineThresholds'>,
  deps: Pick<GatewayDeps, 'sql' | 'kafka' | 'codec'>,
  logger: Logger,
): PipelineService {
  return new PipelineService({
    sql: deps.sql,
    producer: deps.kafka.producer,
    codec: deps.codec,
    namespace: env.NAMESPACE,
    thresholds: env.pipelineThresholds,
    logger,
  });
}

const DEAD_LETTERS_SHOWN = 20;
/**
 * How long one read of the overview answers every console (and the gateway's pipeline watch): the read
 * scans `orders` (overview.ts), so consoles refreshing every few seconds share one scan per this span
 * however many are open. Counted from when the read resolved; a read in flight is shared whatever its age.
 */
const OVERVIEW_SHARED_MS = 2_000;

/** redrive.note when the diagnosis leaves finding the event to the re-drive (recorded.ts: the search). */
const lookedUpAtRedrive = (event: string) =>
  `The ${event} event is not found by primary key: the input it was produced from is not named by the history (an order ` +
  'changed while pending was validated from its order.updated). A re-drive searches the producing stage’s records for ' +
  'it, and answers 409 if they are gone.';

const notFound = (id: string) =>
  new DomainError('not_found', GatewayErrorCodes.pipelineOrderNotFound, 'Order not found', `No order with id ${id}.`);

interface Snapshot {
  order: OrderRow;
  /** The database's clock at the snapshot. */
  now: Date;
  /** Oldest first. */
  history: HistoryRow[];
}

export class PipelineService {
  /** The DLQ module's index, for an order's dead letters (listed as that module lists them). */
  private readonly deadLetters: DeadLetters;
  private readonly sharedOverview: SharedRead<PipelineOverview>;

  constructor(private readonly options: PipelineOptions) {
    this.deadLetters = new DeadLetters(options.sql, options.producer, options.codec, options.namespace);
    this.sharedOverview = new SharedRead(() => readOverview(options.sql, options.thresholds), OVERVIEW_SHARED_MS);
  }

  /** The overview; a read in flight, or resolved less than OVERVIEW_SHARED_MS ago, is shared; a failed one is not kept. */
  overview(): Promise<PipelineOverview> {
    return this.sharedOverview.get();
  }

  stuck(q: StuckQuery): Promise<StuckPage> {
    return readStuck(this.options.sql, this.options.thresholds, q);
  }

  /**
   * The diagnosis (the console refreshes it every few seconds): primary-key reads only. Whether the
   * order can be re-driven is decided by the chain lookup; where only the bounded search of a producer's
   * records could tell (recorded.ts), it says possible with `redrive.note`, and the search runs when
   * the operator re-drives.
   */
  async order(id: string): Promise<PipelineOrderView> {
    const { thresholds } = this.options;
    const [diagnosis, deadLetters] = await Promise.all([
      this.snapshot(id, async (tx, { order, now, history }) => {
        const stage = stageWaitingIn(order.status);
        const last = history.findLast((h) => h.to_status === order.status) ?? history[history.length - 1];
        let lastEvent: PipelineOrderView['lastEvent'] = null;
        let lastEventReason: string | null = null;
        if (stage?.stage === 'validator' && order.revision > 1)
          // Not order.placed (the creation row's event): the validator waits on the latest change's order.updated.
          lastEventReason =
            `The order was changed while pending (revision ${order.revision}): the validator waits on that change’s order.updated ` +
            'event, which is not recorded (no event id to show or to check).';
        else if (last?.event_id) {
          const [seen] = stage
            ? await tx`SELECT 1 FROM processed_events WHERE consumer_group = ${stage.group} AND event_id = ${last.event_id}`
            : [];
          lastEvent = {
            eventId: last.event_id,
            eventType: eventTypeOf(last.from_status, last.to_status) ?? 'unknown',
            occurredAt: last.occurred_at.toISOString(),
            processedByNextStage: seen !== undefined,
          };
        } else
          lastEventReason = last
            ? 'The history row of the change has no event id (written before event ids were recorded).'
            : 'The order has no history.';
        const redrive: PipelineOrderView['redrive'] = await recordedEvent(tx, order, history, { search: false }).then(
          (e) =>
            e
              ? { possible: true, eventType: e.type, reason: null, note: null }
              : { possible: true, eventType: stage?.input ?? null, reason: null, note: stage ? lookedUpAtRedrive(stage.input) : null },
          (err: unknown) => {
            if (!(err instanceof DomainError)) throw err;
            return { possible: false, eventType: stage?.input ?? null, reason: err.message, note: null };
          },
        );
        return { order, now, history, stage, lastEvent, lastEventReason, redrive };
      }),
      this.deadLetters.list({ orderId: id, limit: DEAD_LETTERS_SHOWN }),
    ]);
    const { order, now, history, stage, lastEvent, lastEventReason, redrive } = diagnosis;
    const ageMs = Math.max(0, now.getTime() - order.updated_at.getTime());
    const thresholdMs = stage ? thresholds[stage.stage] : null;
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
      lastEventReason,
      deadLetters: deadLetters.items,
      redrive,
    };
  }

  async redrive(actorId: string, id: string, trace?: string): Promise<RedriveResultView> {
    const { sql, codec, namespace, logger } = this.options;
    // The event is found in the snapshot; nothing is held open while Kafka is waited on.
    const { order, event } = await this.snapshot(id, async (tx, { order, history }) => ({
      order,
      event: await recordedEvent(tx, order, history),
    }));
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
    const detail = { stage, eventId: event.eventId, eventType: event.type, topic };
    try {
      await recordAdminAction(sql, actorId, 'order.redriven', order.id, detail);
    } catch (err) {
      // Sent but not audited. The audit row follows Kafka's ack so that a send Kafka refuses leaves no
      // row claiming it happened; a row written before the send ('attempted', then marked sent) would
      // close this gap but needs a second write that can fail the same way, and would record refused
      // sends as attempts. Chosen: this rare case is logged at error level with everything the row
      // would have held (the error log is the audit of last resort; never the payload: order.placed
      // carries the payment token), and the operator gets a 500, not a 202 nor a 503 inviting a retry
      // as if nothing had been sent (a repeat would be harmless, but it has been sent).
      logger.error({ err, actorId, orderId: order.id, ...detail }, 'pipeline re-drive sent but its audit row not written');
      throw new HttpError(
        500,
        GatewayErrorCodes.internal,
        'Re-drive sent, not audited',
        `The ${event.type} event ${event.eventId} was sent to ${topic}, but its audit row could not be written; this has been ` +
          'logged with your id. It need not be re-driven again.',
      );
    }
    return { orderId: order.id, stage, eventId: event.eventId, eventType: event.type, topic, redrivenAt };
  }

  /**
   * The order, its history, and whatever `then` reads with `tx`, in one REPEATABLE READ READ ONLY
   * transaction (one snapshot on one connection); 404 for an unknown order.
   */
  private async snapshot<T>(id: string, then: (tx: Sql, s: Snapshot) => Promise<T>): Promise<T> {
    return (await this.options.sql.begin('isolation level repeatable read read only', async (t) => {
      const tx = t as unknown as Sql;
      const [[row], history] = await Promise.all([
        tx<(OrderRow & { now: Date })[]>`
          SELECT id, user_id, status, status_reason, currency, total_cents, payment_method_token, version, revision,
                 created_at, updated_at, now() AS now
          FROM orders WHERE id = ${id}`,
        tx<HistoryRow[]>`
          SELECT from_status, to_status, reason, version, event_id, occurred_at
          FROM order_status_history WHERE order_id = ${id} ORDER BY id`,
      ]);
      if (!row) throw notFound(id);
      const { now, ...order } = row;
      return then(tx, { order, now, history });
    })) as T;
  }
}
