/**
 * Dead-letter schemas: the list query, one entry as an operator sees it (without the raw payload), the
 * detail with headers and the decoded (or raw) payload, and the answer to a replay.
 */
import { t } from 'elysia';
import { STAGE_NAMES } from '../../dlq/topics';
import { Int, Nullable, QueryInt } from '../../schema';

export const DeadLetterIdParams = t.Object({ id: t.String({ format: 'uuid' }) });

export const ListDeadLettersQuery = t.Object(
  {
    // Patterns rather than t.UnionEnum: Elysia fills an optional enum query parameter with its first value.
    stage: t.Optional(t.String({ pattern: `^(${STAGE_NAMES.join('|')})$`, description: 'The stage that dead-lettered it' })),
    orderId: t.Optional(t.String({ format: 'uuid', description: 'The message key' })),
    replayed: t.Optional(t.String({ pattern: '^(true|false)$', description: 'Only replayed (true) or not yet replayed (false) entries' })),
    limit: t.Optional(QueryInt({ minimum: 1, maximum: 100 })),
    cursor: t.Optional(t.String({ pattern: '^[A-Za-z0-9_-]{1,200}$' })),
  },
  { additionalProperties: false },
);
export type ListDeadLettersQuery = typeof ListDeadLettersQuery.static;

export const ReplayView = t.Object({
  replayedAt: t.String({ format: 'date-time' }),
  replayedBy: t.String({ format: 'uuid' }),
});

export const DeadLetterView = t.Object({
  id: t.String({ format: 'uuid' }),
  stage: t.String(),
  consumerGroup: t.String(),
  topic: t.String(),
  partition: Int(),
  offset: t.String({ description: 'Kafka offset, as text (64-bit)' }),
  eventId: Nullable(t.String()),
  eventType: Nullable(t.String()),
  orderId: Nullable(t.String()),
  errorCode: Nullable(t.String()),
  errorReason: Nullable(t.String()),
  attempts: Nullable(Int()),
  originalTopic: Nullable(t.String()),
  originalPartition: Nullable(Int()),
  originalOffset: Nullable(t.String()),
  deadLetteredAt: t.String({ format: 'date-time' }),
  indexedAt: t.String({ format: 'date-time' }),
  replay: Nullable(ReplayView),
});
export type DeadLetterView = typeof DeadLetterView.static;

export const DeadLetterPage = t.Object({ items: t.Array(DeadLetterView), nextCursor: Nullable(t.String()) });
export type DeadLetterPage = typeof DeadLetterPage.static;

export const DeadLetterDetailView = t.Composite([
  DeadLetterView,
  t.Object({
    headers: t.Record(t.String(), t.String(), { description: 'As on the topic; a binary value as base64:<bytes>' }),
    payload: t.Union([
      t.Object({
        decoded: t.Literal(true),
        type: t.String(),
        schemaId: Int(),
        event: t.Unknown({ description: 'The event as the codec decoded it' }),
      }),
      t.Object({
        decoded: t.Literal(false),
        error: t.String({ description: 'Why the codec could not decode it' }),
        base64: t.String({ description: 'The raw value' }),
      }),
    ]),
  }),
]);
export type DeadLetterDetailView = typeof DeadLetterDetailView.static;

export const ReplayResultView = t.Object({
  id: t.String({ format: 'uuid' }),
  alreadyReplayed: t.Boolean({ description: 'True when an earlier replay is what this answer reports: nothing was sent' }),
  retryTopic: t.String(),
  replayedAt: t.String({ format: 'date-time' }),
  replayedBy: t.String({ format: 'uuid' }),
});
export type ReplayResultView = typeof ReplayResultView.static;
