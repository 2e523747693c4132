/**
 * Pipeline view schemas: the overview (orders by status, and per stage how many wait and for how long),
 * the stuck list, one order as an operator investigates it (timeline, last event, dead letters, whether
 * it can be re-driven), and the answer to a re-drive.
 */
import { t } from 'elysia';
import { Int, Nullable, QueryInt } from '../../schema';
import { DeadLetterView } from '../dlq/model';
import { PIPELINE_STAGES } from './stages';

const Stage = t.UnionEnum([...PIPELINE_STAGES]);
const Millis = (description: string) => Int({ minimum: 0, description });

export const PipelineOrderParams = t.Object({ id: t.String({ format: 'uuid' }) });

export const StageAgeView = t.Object(
  { p50: Millis('Median'), p95: Millis('95th percentile'), p99: Millis('99th percentile'), max: Millis('Oldest') },
  { description: 'How long the waiting orders have been in the status, in milliseconds' },
);

export const StageView = t.Object({
  stage: Stage,
  waitingStatus: t.String({ description: 'The status an order waits in for this stage' }),
  count: Int({ minimum: 0, description: 'Orders in that status' }),
  ageMs: Nullable(StageAgeView),
  thresholdMs: Millis('Waiting longer than this is stuck'),
  stuck: Int({ minimum: 0, description: 'Orders waiting longer than thresholdMs' }),
});

export const PipelineOverview = t.Object({
  generatedAt: t.String({ format: 'date-time' }),
  statuses: t.Object({
    pending: Int(),
    validated: Int(),
    paid: Int(),
    reserved: Int(),
    shipped: Int(),
    cancelled: Int(),
    rejected: Int(),
    failed: Int(),
  }),
  stages: t.Array(StageView),
});
export type PipelineOverview = typeof PipelineOverview.static;

export const StuckQuery = t.Object(
  {
    // A pattern rather than t.UnionEnum: Elysia fills an optional enum query parameter with its first value.
    stage: t.Optional(t.String({ pattern: `^(${PIPELINE_STAGES.join('|')})$`, description: 'Only orders waiting on this stage' })),
    limit: t.Optional(QueryInt({ minimum: 1, maximum: 200 })),
    cursor: t.Optional(t.String({ pattern: '^[A-Za-z0-9_-]{1,200}$' })),
  },
  { additionalProperties: false },
);
export type StuckQuery = typeof StuckQuery.static;

export const StuckOrderView = t.Object({
  orderId: t.String({ format: 'uuid' }),
  userId: t.String({ format: 'uuid' }),
  status: t.String(),
  stage: Stage,
  ageMs: Millis('Time since the order entered its status'),
  thresholdMs: Millis('The stage’s stuck threshold'),
  updatedAt: t.String({ format: 'date-time' }),
});
export type StuckOrderView = typeof StuckOrderView.static;

export const StuckPage = t.Object({ items: t.Array(StuckOrderView), nextCursor: Nullable(t.String()) });
export type StuckPage = typeof StuckPage.static;

export const TimelineEntryView = t.Object({
  fromStatus: Nullable(t.String()),
  toStatus: t.String(),
  reason: Nullable(t.String()),
  version: Int(),
  eventId: Nullable(t.String({ description: 'The event that caused the change (null on creation rows written before it was recorded)' })),
  occurredAt: t.String({ format: 'date-time' }),
});
export type TimelineEntryView = typeof TimelineEntryView.static;

export const LastEventView = t.Object({
  eventId: t.String(),
  eventType: t.String(),
  occurredAt: t.String({ format: 'date-time', description: 'When the change it caused was recorded' }),
  processedByNextStage: t.Boolean({
    description:
      'The waiting stage has processed this event (so the lag is downstream of it, e.g. the projector); false for a final status',
  }),
});

export const PipelineOrderView = t.Object({
  order: t.Object({
    id: t.String({ format: 'uuid' }),
    userId: t.String({ format: 'uuid' }),
    status: t.String(),
    statusReason: Nullable(t.String()),
    version: Int(),
    revision: Int(),
    createdAt: t.String({ format: 'date-time' }),
    updatedAt: t.String({ format: 'date-time' }),
  }),
  stage: Nullable(Stage),
  ageMs: Millis('Time since the order entered its status'),
  thresholdMs: Nullable(Int()),
  stuck: t.Boolean(),
  timeline: t.Array(TimelineEntryView, { description: 'Oldest first' }),
  lastEvent: Nullable(LastEventView),
  lastEventReason: Nullable(
    t.String({
      description:
        'Why lastEvent is null (null when it is set). A pending order changed by its customer (revision > 1) has none: the ' +
        'validator waits on that change’s order.updated, which is not recorded (its id is unknown), rather than on the ' +
        'order.placed of the creation row.',
    }),
  ),
  deadLetters: t.Array(DeadLetterView, { description: 'Newest first, at most 20' }),
  redrive: t.Object({
    possible: t.Boolean(),
    eventType: Nullable(t.String({ description: 'What a re-drive would send' })),
    reason: Nullable(t.String({ description: 'Why it is not possible' })),
    note: Nullable(
      t.String({
        description:
          'Set when `possible` is not yet certain: the diagnosis reads by primary key only, and this order’s event can only ' +
          'be found by the bounded search of its producer’s records (an order changed while pending), which runs when it is ' +
          're-driven; that re-drive may still answer 409 if the records are gone. Null otherwise.',
      }),
    ),
  }),
});
export type PipelineOrderView = typeof PipelineOrderView.static;

export const RedriveResultView = t.Object({
  orderId: t.String({ format: 'uuid' }),
  stage: Stage,
  eventId: t.String(),
  eventType: t.String(),
  topic: t.String({ description: 'The stage’s retry topic it was sent to' }),
  redrivenAt: t.String({ format: 'date-time' }),
});
export type RedriveResultView = typeof RedriveResultView.static;
