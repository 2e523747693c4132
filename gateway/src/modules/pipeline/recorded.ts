/**
 * Finds the exact event that moved an order into its status, so it can be sent again to the stage the
 * order waits on: same event id, same payload, as its producer emitted it.
 *
 * - validated, paid, reserved: the event id is on the status's history row, and the event itself in the
 *   outputs its producing stage recorded in processed_events. Found by primary key through the chain
 *   (the producer's input was the event of the history row before: for validated, the creation row's
 *   order.placed), else by a bounded search of that stage's records around the time of the change (an
 *   order changed by order.updated was validated from that event, which no history row names).
 * - pending: order.placed is rebuilt from the order's rows (same event id, taken from the creation row,
 *   and the same content) while the order is at its first revision; the validator de-duplicates by event
 *   id, so for an order it has already judged it re-sends the verdict it recorded.
 *
 * Either way what cannot be found (records removed by retention, an order changed while pending) is a
 * 409 saying which, never a guessed event.
 */
import type { EventPayloads, EventType, OrderPlaced } from '@orders/contracts';
import type { Sql } from '@orders/platform';
import { GatewayErrorCodes } from '../../error-codes';
import { DomainError } from '../../errors';
import { type StageInfo, stageInfo, stageWaitingIn } from './stages';

export interface OrderRow {
  id: string;
  user_id: string;
  status: string;
  status_reason: string | null;
  currency: string;
  total_cents: string | number;
  payment_method_token: string | null;
  version: number;
  revision: number;
  created_at: Date;
  updated_at: Date;
}

export interface HistoryRow {
  from_status: string | null;
  to_status: string;
  reason: string | null;
  version: number;
  event_id: string | null;
  occurred_at: Date;
}

/** An event ready to be sent again to the stage that waits on it. */
export interface RecordedEvent {
  stage: StageInfo;
  type: EventType;
  eventId: string;
  payload: EventPayloads[EventType];
}

/** How far around a status change the fallback looks for its producer's record. */
const FALLBACK_WINDOW = '2 minutes';

const unrecorded = (detail: string) =>
  new DomainError('conflict', GatewayErrorCodes.pipelineRedriveUnrecorded, 'Event not recorded', detail);

export const finalStatus = (status: string) =>
  new DomainError(
    'conflict',
    GatewayErrorCodes.pipelineOrderFinal,
    'Order is final',
    `The order is ${status}: no stage waits on it, there is nothing to re-drive.`,
  );

/** The event to re-drive for `order`, whose history (oldest first) is `history`; throws 409s. */
export async function recordedEvent(sql: Sql, order: OrderRow, history: HistoryRow[]): Promise<RecordedEvent> {
  const stage = stageWaitingIn(order.status);
  if (!stage) throw finalStatus(order.status);
  return stage.producer === null ? rebuildPlaced(sql, stage, order, history) : fromOutputs(sql, stage, history);
}

async function rebuildPlaced(sql: Sql, stage: StageInfo, order: OrderRow, history: HistoryRow[]): Promise<RecordedEvent> {
  if (order.revision !== 1)
    throw unrecorded(
      `The order was changed while pending (revision ${order.revision}): the validator waits on its order.updated event, which ` +
        'is not kept anywhere it can be re-sent from. Ask the customer to change it again, or cancel it.',
    );
  const eventId = history.find((h) => h.from_status === null && h.to_status === 'pending')?.event_id;
  if (!eventId)
    throw unrecorded(
      'The creation history row has no event id (written before it was recorded): order.placed cannot be rebuilt as it was.',
    );
  const items = await sql<{ sku: string; quantity: number; unit_price_cents: string | number }[]>`
    SELECT sku, quantity, unit_price_cents FROM order_items WHERE order_id = ${order.id} ORDER BY line_no`;
  const payload: OrderPlaced = {
    eventId,
    occurredAt: order.created_at.getTime(),
    orderId: order.id,
    userId: order.user_id,
    currency: order.currency,
    totalCents: Number(order.total_cents),
    items: items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPriceCents: Number(i.unit_price_cents) })),
    paymentMethodToken: order.payment_method_token,
  };
  return { stage, type: stage.input, eventId, payload };
}

interface RecordedOutput {
  kind: string;
  type?: string;
  payload?: { eventId?: string };
}

async function fromOutputs(sql: Sql, stage: StageInfo, history: HistoryRow[]): Promise<RecordedEvent> {
  const producer = stageInfo(stage.producer as NonNullable<StageInfo['producer']>);
  const at = history.findLastIndex((h) => h.to_status === stage.waitingStatus);
  const change = history[at];
  const eventId = change?.event_id;
  if (!change || !eventId) throw unrecorded(`No history row names the event that made the order ${stage.waitingStatus}.`);
  const pick = (outputs: RecordedOutput[] | undefined) =>
    outputs?.find((o) => o.kind === 'event' && o.type === stage.input && o.payload?.eventId === eventId);
  let found: RecordedOutput | undefined;
  const input = history[at - 1]?.event_id;
  if (input) {
    const [row] = await sql<{ outputs: RecordedOutput[] }[]>`
      SELECT outputs FROM processed_events WHERE consumer_group = ${producer.group} AND event_id = ${input}`;
    found = pick(row?.outputs);
  }
  if (!found) {
    const [row] = await sql<{ outputs: RecordedOutput[] }[]>`
      SELECT outputs FROM processed_events
      WHERE consumer_group = ${producer.group}
        AND processed_at BETWEEN ${change.occurred_at}::timestamptz - ${FALLBACK_WINDOW}::interval
                             AND ${change.occurred_at}::timestamptz + ${FALLBACK_WINDOW}::interval
        AND outputs @> ${sql.json([{ payload: { eventId } }])}::jsonb
      LIMIT 1`;
    found = pick(row?.outputs);
  }
  if (!found)
    throw unrecorded(
      `The ${stage.input} event ${eventId} is no longer recorded: the ${producer.stage} stage's processed-event records for this ` +
        'order are gone (retention removes them after DEDUP_MIN_AGE_MS once the stages have moved past them).',
    );
  return { stage, type: stage.input, eventId, payload: found.payload as EventPayloads[EventType] };
}
