/** Webhook schemas: registration, the endpoint as its owner sees it, deliveries and their attempts. */
import { WEBHOOK_EVENT_TYPES } from '@orders/contracts';
import { CUSTOM_HEADER_LIMITS, HEADER_NAME_PATTERN, HEADER_VALUE_PATTERN } from '@orders/platform/webhooks/custom-headers';
import { t } from 'elysia';
import { Int, Nullable, QueryInt } from '../../schema';

const Url = t.String({ minLength: 8, maxLength: 2048, description: 'https URL (http only for allowlisted local hosts in dev/test)' });
const EventTypes = t.Array(t.UnionEnum(WEBHOOK_EVENT_TYPES as [string, ...string[]]), { minItems: 1, maxItems: 20, uniqueItems: true });
const Description = t.String({ maxLength: 500 });
/**
 * The syntax is checked here (400); which names are the dispatcher's, names equal but for case and the
 * total size are checked by the service (422 with the fields named).
 */
const CustomHeaders = t.Record(
  t.String({ pattern: HEADER_NAME_PATTERN }),
  t.String({ minLength: 1, maxLength: CUSTOM_HEADER_LIMITS.maxValueLength, pattern: HEADER_VALUE_PATTERN }),
  {
    maxProperties: CUSTOM_HEADER_LIMITS.maxCount,
    // TypeBox's Record otherwise lets a name that misses the pattern through.
    additionalProperties: false,
    description:
      'Sent with every delivery (stored sealed). Names: RFC 9110 tokens of at most 64 characters, stored lower-case; not the ' +
      'signature headers, content-type/-length, host, connection, transfer-encoding, te, upgrade, keep-alive, expect, proxy-*, ' +
      'sec-*, traceparent, tracestate or user-agent. Values: 1–1024 visible ASCII characters, spaces and tabs inside. ' +
      'At most 20, 8 KiB of names and values together. On update, replaces the whole set ({} clears it).',
  },
);
/** Range-checked by the service (422), so a client gets the same answer for 0, 1001 and 1.5. */
const RateLimitPerSecond = t.Union([t.Number({ description: 'An integer, 1–1000' }), t.Null()], {
  description: 'At most this many deliveries per second to the endpoint, across every dispatcher; null: unlimited',
});

export const CreateEndpointBody = t.Object(
  {
    url: Url,
    eventTypes: EventTypes,
    description: t.Optional(Description),
    ordered: t.Optional(t.Boolean({ description: 'Deliver one order’s events one at a time, in order' })),
    headers: t.Optional(CustomHeaders),
    rateLimitPerSecond: t.Optional(RateLimitPerSecond),
  },
  { additionalProperties: false },
);
export type CreateEndpointBody = typeof CreateEndpointBody.static;

export const UpdateEndpointBody = t.Object(
  {
    url: t.Optional(Url),
    eventTypes: t.Optional(EventTypes),
    description: t.Optional(Description),
    ordered: t.Optional(t.Boolean()),
    headers: t.Optional(CustomHeaders),
    rateLimitPerSecond: t.Optional(RateLimitPerSecond),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateEndpointBody = typeof UpdateEndpointBody.static;

export const RotateBody = t.Optional(
  t.Object(
    { overlapSeconds: t.Optional(Int({ minimum: 0, maximum: 7 * 24 * 3600, description: 'How long the old secret still signs' })) },
    { additionalProperties: false },
  ),
);

export const RedeliverBody = t.Object(
  { since: t.String({ format: 'date-time', description: 'Every failed message created since then' }) },
  { additionalProperties: false },
);

export const EndpointIdParams = t.Object({ id: t.String({ format: 'uuid' }) });
export const MessageParams = t.Object({ id: t.String({ format: 'uuid' }), messageId: t.String({ format: 'uuid' }) });

export const ListQuery = t.Object(
  {
    limit: t.Optional(QueryInt({ minimum: 1, maximum: 100 })),
    cursor: t.Optional(t.String({ format: 'uuid' })),
  },
  { additionalProperties: false },
);
export const DeliveriesQuery = t.Object(
  {
    limit: t.Optional(QueryInt({ minimum: 1, maximum: 100 })),
    cursor: t.Optional(t.String({ pattern: '^[0-9]{1,18}$' })),
    // A union of literals, not t.UnionEnum: Elysia 1.4 fills an absent optional UnionEnum query parameter
    // with its first value, which silently listed only pending deliveries.
    status: t.Optional(t.Union([t.Literal('pending'), t.Literal('succeeded'), t.Literal('failed')])),
  },
  { additionalProperties: false },
);

export const EndpointHealth = t.Object(
  {
    recentMessages: Int({ description: 'How many messages the figures cover: the newest, at most 100' }),
    succeeded: Int(),
    failed: Int({ description: 'Failed for good (the schedule ran out, or 410 Gone)' }),
    pending: Int(),
    successRate: Nullable(t.Number({ minimum: 0, maximum: 1, description: 'succeeded / (succeeded + failed); null until one finished' })),
    lastAttemptAt: Nullable(t.String({ format: 'date-time', description: 'When the newest attempt at those messages started' })),
    lastStatusCode: Nullable(Int({ description: 'Its HTTP status; null when it got no answer (or none was made)' })),
    lastOutcome: Nullable(t.UnionEnum(['succeeded', 'failed'])),
  },
  { description: 'How the endpoint’s newest messages (at most 100) fared' },
);
export type EndpointHealth = typeof EndpointHealth.static;

export const EndpointView = t.Object({
  id: t.String({ format: 'uuid' }),
  userId: t.String({ format: 'uuid' }),
  url: t.String(),
  description: t.String(),
  eventTypes: t.Array(t.String()),
  ordered: t.Boolean(),
  headers: t.Record(t.String(), Nullable(t.String()), {
    description: 'The custom headers, names lower-case; a value is null when withheld (an admin reading another user’s endpoint)',
  }),
  headersUnreadable: t.Optional(
    t.Boolean({ description: 'Present (true) when the stored headers cannot be opened: `headers` is then empty; set them again' }),
  ),
  rateLimitPerSecond: Nullable(Int({ minimum: 1, maximum: 1_000 })),
  status: t.UnionEnum(['active', 'paused', 'disabled']),
  disabledReason: Nullable(t.String()),
  consecutiveFailures: Int(),
  failingSince: Nullable(t.String({ format: 'date-time' })),
  blockedUntil: Nullable(
    t.String({
      format: 'date-time',
      description: 'The breaker’s pause (after a run of failures, or a Retry-After): no deliveries until then',
    }),
  ),
  health: EndpointHealth,
  previousSecretExpiresAt: Nullable(t.String({ format: 'date-time', description: 'While set, the old secret signs too' })),
  createdAt: t.String({ format: 'date-time' }),
  updatedAt: t.String({ format: 'date-time' }),
});
export type EndpointView = typeof EndpointView.static;

export const CreatedEndpointView = t.Composite([
  EndpointView,
  t.Object({ secret: t.String({ description: 'whsec_…: shown once, keep it' }) }),
]);
export const SecretView = t.Object({ secret: t.String(), previousSecretExpiresAt: Nullable(t.String({ format: 'date-time' })) });
export const EndpointPage = t.Object({ items: t.Array(EndpointView), nextCursor: Nullable(t.String()) });

export const MessageView = t.Object({
  id: t.String({ format: 'uuid' }),
  webhookId: t.String({ description: 'The webhook-id header: the same on every attempt' }),
  eventType: t.String(),
  orderId: Nullable(t.String()),
  status: t.UnionEnum(['pending', 'succeeded', 'failed']),
  attempts: Int(),
  nextAttemptAt: Nullable(t.String({ format: 'date-time' })),
  lastStatusCode: Nullable(Int()),
  lastError: Nullable(t.String()),
  createdAt: t.String({ format: 'date-time' }),
});
export type MessageView = typeof MessageView.static;
export const MessagePage = t.Object({ items: t.Array(MessageView), nextCursor: Nullable(t.String()) });

export const AttemptView = t.Object({
  attempt: Int(),
  startedAt: t.String({ format: 'date-time' }),
  durationMs: Int(),
  statusCode: Nullable(Int()),
  error: Nullable(t.String()),
  responseBody: Nullable(t.String({ description: 'The first 1 KiB' })),
  outcome: t.UnionEnum(['succeeded', 'failed']),
});
export const MessageDetailView = t.Composite([MessageView, t.Object({ payload: t.Unknown(), history: t.Array(AttemptView) })]);
export const QueuedView = t.Object({ messageId: t.Optional(t.String({ format: 'uuid' })), count: Int() });
