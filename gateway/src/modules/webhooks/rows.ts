/**
 * Webhook endpoints and messages as PostgreSQL holds them and as their owner sees them, and the owner
 * rule every read and change applies: a customer reaches only their own endpoints (another user's is
 * indistinguishable from none), an admin everyone's.
 */
import type { Principal, Sql } from '@orders/platform';
import { GatewayErrorCodes } from '../../error-codes';
import { DomainError } from '../../errors';
import { type HealthRow, toHealth } from './health';
import type { EndpointView, MessageView } from './model';

export interface EndpointRow {
  id: string;
  user_id: string;
  url: string;
  description: string;
  event_types: string[];
  ordered: boolean;
  /** The custom headers, sealed (null: none); opened by `toView`'s caller, never logged. */
  headers_sealed: string | null;
  rate_limit_per_second: number | null;
  status: 'active' | 'paused' | 'disabled';
  disabled_reason: string | null;
  consecutive_failures: number;
  failing_since: Date | null;
  /** The breaker's pause, while it lasts (null once it has passed). */
  blocked_until: Date | null;
  previous_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface MessageRow {
  id: string;
  seq: string;
  event_type: string;
  order_id: string | null;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  payload?: unknown;
}

export const ENDPOINT_COLUMNS = `id, user_id, url, description, event_types, ordered, headers_sealed, rate_limit_per_second, status, disabled_reason, consecutive_failures,
  failing_since, CASE WHEN blocked_until > now() THEN blocked_until END AS blocked_until,
  CASE WHEN previous_expires_at > now() THEN previous_expires_at END AS previous_expires_at, created_at, updated_at`;

export const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The view (health.ts's `withHealth` adds the health columns); `headers` as the reader may see them. */
export function toView(r: EndpointRow & HealthRow, headers: Pick<EndpointView, 'headers' | 'headersUnreadable'>): EndpointView {
  return {
    id: r.id,
    userId: r.user_id,
    url: r.url,
    description: r.description,
    eventTypes: r.event_types,
    ordered: r.ordered,
    ...headers,
    rateLimitPerSecond: r.rate_limit_per_second,
    status: r.status,
    disabledReason: r.disabled_reason,
    consecutiveFailures: r.consecutive_failures,
    failingSince: iso(r.failing_since),
    blockedUntil: iso(r.blocked_until),
    health: toHealth(r),
    previousSecretExpiresAt: iso(r.previous_expires_at),
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export function toMessage(r: MessageRow): MessageView {
  return {
    id: r.id,
    webhookId: `msg_${r.id.replaceAll('-', '')}`,
    eventType: r.event_type,
    orderId: r.order_id,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.status === 'pending' ? r.next_attempt_at.toISOString() : null,
    lastStatusCode: r.last_status_code,
    lastError: r.last_error,
    createdAt: r.created_at.toISOString(),
  };
}

export const notFound = (what: string, id: string) =>
  new DomainError('not_found', GatewayErrorCodes.webhookNotFound, 'Not found', `No ${what} ${id}.`);

/** The SQL condition that keeps a customer to their own endpoints; admins see all. */
export function ownerFilter(sql: Sql, principal: Principal) {
  return principal.role === 'admin' ? sql`` : sql`AND user_id = ${principal.userId}`;
}

/** The endpoint, if the principal may reach it. */
export async function findEndpoint(sql: Sql, principal: Principal, id: string): Promise<EndpointRow> {
  const [row] = await sql<EndpointRow[]>`
    SELECT ${sql.unsafe(ENDPOINT_COLUMNS)} FROM webhook_endpoints WHERE id = ${id} ${ownerFilter(sql, principal)}`;
  if (!row) throw notFound('webhook endpoint', id);
  return row;
}
