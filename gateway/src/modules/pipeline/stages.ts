/**
 * The pipeline as the operator view sees it: which stage an order in each status waits on, the event
 * that moved it there (the stage's input), and the stage that produced that event. Plus the stuck
 * thresholds: one for every stage (PIPELINE_STUCK_AFTER_MS) with per-stage overrides
 * (PIPELINE_STUCK_THRESHOLDS=`payment=120000,fulfillment=300000`), parsed here for gateway/src/env.ts.
 */
import { type ConsumerGroup, ConsumerGroups, Events, type EventType, type OrderStatus } from '@orders/contracts';

export const PIPELINE_STAGES = ['validator', 'payment', 'inventory', 'fulfillment'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

export interface StageInfo {
  stage: PipelineStage;
  group: ConsumerGroup;
  /** The status an order waits in for this stage. */
  waitingStatus: OrderStatus;
  /** The event that moved the order into that status: what the stage consumes. */
  input: EventType;
  /** The stage that emitted `input` (null: the gateway, whose order.placed goes through the outbox). */
  producer: PipelineStage | null;
}

/** In pipeline order: each stage's input is the previous stage's output. */
export const STAGES: readonly StageInfo[] = [
  { stage: 'validator', group: ConsumerGroups.validator, waitingStatus: 'pending', input: Events.OrderPlaced, producer: null },
  { stage: 'payment', group: ConsumerGroups.payment, waitingStatus: 'validated', input: Events.OrderValidated, producer: 'validator' },
  { stage: 'inventory', group: ConsumerGroups.inventory, waitingStatus: 'paid', input: Events.PaymentAuthorized, producer: 'payment' },
  {
    stage: 'fulfillment',
    group: ConsumerGroups.fulfillment,
    waitingStatus: 'reserved',
    input: Events.StockReserved,
    producer: 'inventory',
  },
];

export function stageInfo(stage: PipelineStage): StageInfo {
  return STAGES.find((s) => s.stage === stage) as StageInfo;
}

/** The stage an order in `status` waits on; undefined for a final status. */
export function stageWaitingIn(status: string): StageInfo | undefined {
  return STAGES.find((s) => s.waitingStatus === status);
}

/**
 * The event type behind a history row (from → to): the state machine leaves one candidate per target
 * except `failed`, reached from validated by a declined payment and from paid by missing stock.
 */
export function eventTypeOf(from: string | null, to: string): EventType | null {
  if (from === null) return to === 'pending' ? Events.OrderPlaced : null;
  if (to === 'failed') return from === 'validated' ? Events.PaymentFailed : from === 'paid' ? Events.StockUnavailable : null;
  const byTarget: Partial<Record<string, EventType>> = {
    validated: Events.OrderValidated,
    rejected: Events.OrderRejected,
    paid: Events.PaymentAuthorized,
    reserved: Events.StockReserved,
    shipped: Events.OrderShipped,
    cancelled: Events.OrderCancelled,
  };
  return byTarget[to] ?? null;
}

export type StuckThresholds = Readonly<Record<PipelineStage, number>>;

/**
 * `PIPELINE_STUCK_THRESHOLDS` over the default: comma-separated `stage=milliseconds`. An unknown stage,
 * a stage named twice or a value that is not a positive whole number is a problem (start-up refused).
 */
export function parseStuckThresholds(defaultMs: number, overrides: string, problems: string[]): StuckThresholds {
  const out = Object.fromEntries(PIPELINE_STAGES.map((s) => [s, defaultMs])) as Record<PipelineStage, number>;
  const seen = new Set<string>();
  for (const item of overrides
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z]+)\s*=\s*([0-9]{1,12})$/.exec(item);
    const stage = m?.[1] ?? '';
    const ms = Number(m?.[2]);
    if (!m) problems.push(`PIPELINE_STUCK_THRESHOLDS: "${item}" is not stage=milliseconds`);
    else if (!(PIPELINE_STAGES as readonly string[]).includes(stage))
      problems.push(`PIPELINE_STUCK_THRESHOLDS: unknown stage "${stage}" (stages: ${PIPELINE_STAGES.join(', ')})`);
    else if (seen.has(stage)) problems.push(`PIPELINE_STUCK_THRESHOLDS: ${stage} is named twice`);
    else if (!Number.isSafeInteger(ms) || ms < 1) problems.push(`PIPELINE_STUCK_THRESHOLDS: ${stage} must be at least 1 ms`);
    else out[stage as PipelineStage] = ms;
    seen.add(stage);
  }
  return Object.freeze(out);
}
