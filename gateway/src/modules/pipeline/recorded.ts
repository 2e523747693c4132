/**
 * Finds the exact event that moved an order into its status, so it can be sent again to the stage the
 * order waits on: same event id, same payload, as its producer emitted it.
 *
 * - validated, paid, reserved: the event id is on the status's history row, and the event itself in the
 *   outputs its producing stage recorded in processed_events. Found by primary key through the chain
 *   (the producer's input was the event of the history row before: for validated, the creation row's
 *   order.placed), else by a bounded search of that stage's records (an order changed by order.updated
 *   was validated from that event, which no history row names). The search only runs for a re-drive,
 *   never for the diagnosis the console refreshes every few seconds (`search: false`: a miss that the
 *   search could still resolve is answered `undefined`, "looked up at re-drive time").
 * - pending: order.placed is rebuilt from the order's rows (same event id, taken from the creation row,
 *   and the same content) while the order is at its first revision; the validator de-duplicates by event
 *   id, so for an order it has already judged it re-sends the verdict it recorded.
 *
 * Either way what cannot be found (records removed by retention, an order changed while pending) is a
 * 409 saying which, never a guessed event. `sql` should be one REPEATABLE READ transaction that also read
 * `order` and `history` (service.ts), so the order row, its history and its items are one snapshot.
 */
import { ConsumerGroups, type EventPayloads, type EventType, type OrderPlaced } from '@orders/contracts';
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

/**
 * The search's window on processed_at. The producer processed its input after the change before this
 * one (the previous history row) and before the projector applied this one (this row's occurred_at,
 * which is when the PROJECTOR applied it: a projector minutes behind is still covered), so the window is
 * [previous row − SKEW, this row + SKEW], SKEW allowing for the clocks that write the two columns (the
 * database's for processed_at, the projector's or the gateway's for occurred_at). The span is capped at
 * MAX_SPAN, ending at this row + SKEW: a producer that recorded the event more than that before the
 * projector applied it is not found (a 409), which keeps the scan of processed_events (indexed on
 * processed_at, filtered by consumer group) bounded whatever the order's age.
 */
const SEARCH_SKEW_MS = 2 * 60_000;
const SEARCH_MAX_SPAN_MS = 60 * 60_000;

const unrecorded = (detail: string) =>
  new DomainError('conflict', GatewayErrorCodes.pipelineRedriveUnrecorded, 'Event not recorded', detail);

export const finalStatus = (status: string) =>
  new DomainError(
    'conflict',
    GatewayErrorCodes.pipelineOrderFinal,
    'Order is final',
    `The order is ${status}: no stage waits on it, there is nothing to re-drive.`,
  );

/**
 * The event to re-drive for `order`, whose history (oldest first) is `history`; throws 409s. With
 * `search: false` (the diagnosis) only primary-key lookups run: when those miss and the bounded search
 * might still find the event, the answer is `undefined` (undecided until a re-drive searches).
 */
export async function recordedEvent(
  sql: Sql,
  order: OrderRow,
  history: HistoryRow[],
  opts: { search: false },
): Promise<RecordedEvent | undefined>;
export async function recordedEvent(sql: Sql, order: OrderRow, history: HistoryRow[], opts?: { search: true }): Promise<RecordedEvent>;
export async function recordedEvent(
  sql: Sql,
  order: OrderRow,
  history: HistoryRow[],
  opts: { search: boolean } = { search: true },
): Promise<RecordedEvent | undefined> {
  const stage = stageWaitingIn(order.status);
  if (!stage) throw finalStatus(order.status);
  return stage.producer === null ? rebuildPlaced(sql, stage, order, history) : fromOutputs(sql, stage, order, history, opts.search);
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

async function fromOutputs(
  sql: Sql,
  stage: StageInfo,
  order: OrderRow,
  history: HistoryRow[],
  search: boolean,
): Promise<RecordedEvent | undefined> {
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
  if (!found && !search) {
    // Without the search a miss is final only where the chain is the whole answer: the input could be
    // looked up and is the one the producer judged (not so for the validator of an order changed while
    // pending: it judged that change's order.updated, which no history row names).
    const chainDecides = Boolean(input) && !(producer.group === ConsumerGroups.validator && order.revision > 1);
    if (!chainDecides) return undefined;
  } else if (!found) {
    const upper = change.occurred_at.getTime() + SEARCH_SKEW_MS;
    const after = history[at - 1]?.occurred_at.getTime() ?? Number.NEGATIVE_INFINITY;
    const lower = Math.max(after - SEARCH_SKEW_MS, upper - SEARCH_MAX_SPAN_MS);
    const [row] = await sql<{ outputs: RecordedOutput[] }[]>`
      SELECT outputs FROM processed_events
      WHERE consumer_group = ${producer.group}
        AND processed_at BETWEEN ${new Date(lower)} AND ${new Date(upper)}
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
