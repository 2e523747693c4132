/**
 * An endpoint's delivery health as its owner sees it in the portal: how its most recent messages ended
 * and its last attempt. Bounded: only the newest `HEALTH_WINDOW` messages count, read through
 * webhook_messages_endpoint_idx (endpoint_id, created_at DESC), so an endpoint with a million messages
 * costs what one with a hundred does. A page of endpoints is read in one statement: `withHealth` wraps the
 * statement that yields the endpoints (a SELECT, or an INSERT/UPDATE … RETURNING) in a CTE and joins two
 * LATERAL subqueries per endpoint, never one query per endpoint.
 */
import type { Sql } from '@orders/platform';
import type { EndpointHealth } from './model';
import type { EndpointRow } from './rows';

export const HEALTH_WINDOW = 100;

/** The health columns `withHealth` adds to each endpoint row. */
export interface HealthRow {
  recent_messages: number | null;
  succeeded: number | null;
  failed: number | null;
  pending: number | null;
  last_attempt_at: Date | null;
  last_attempt_status_code: number | null;
  last_outcome: 'succeeded' | 'failed' | null;
}

/** A statement (or fragment) built with `sql`…``, interpolated into another. */
type Fragment = ReturnType<Sql['unsafe']>;

/**
 * `endpoints` (a statement returning endpoint rows, `id` among them), each with its health, newest first.
 * A data-modifying statement is fine here: it runs once, in the CTE, and the laterals read only messages
 * and attempts, which it does not touch.
 */
export function withHealth(sql: Sql, endpoints: Fragment) {
  return sql<(EndpointRow & HealthRow)[]>`
    WITH e AS (${endpoints})
    SELECT e.*, h.recent_messages, h.succeeded, h.failed, h.pending,
      la.started_at AS last_attempt_at, la.status_code AS last_attempt_status_code, la.outcome AS last_outcome
    FROM e
    LEFT JOIN LATERAL (
      SELECT count(*)::int AS recent_messages,
        count(*) FILTER (WHERE r.status = 'succeeded')::int AS succeeded,
        count(*) FILTER (WHERE r.status = 'failed')::int AS failed,
        count(*) FILTER (WHERE r.status = 'pending')::int AS pending
      FROM (SELECT m.status FROM webhook_messages m WHERE m.endpoint_id = e.id
            ORDER BY m.created_at DESC LIMIT ${HEALTH_WINDOW}) r
    ) h ON true
    LEFT JOIN LATERAL (
      -- The newest attempt of those messages: each one's last attempt (attempts are numbered by insertion),
      -- then the newest of these.
      SELECT a.started_at, a.status_code, a.outcome
      FROM (SELECT m.id FROM webhook_messages m WHERE m.endpoint_id = e.id
            ORDER BY m.created_at DESC LIMIT ${HEALTH_WINDOW}) r
      CROSS JOIN LATERAL (
        SELECT w.id, w.started_at, w.status_code, w.outcome FROM webhook_attempts w
        WHERE w.message_id = r.id ORDER BY w.id DESC LIMIT 1
      ) a
      ORDER BY a.id DESC LIMIT 1
    ) la ON true
    ORDER BY e.id DESC`;
}

/** The view of the health columns; a success rate only once some message has finished. */
export function toHealth(r: HealthRow): EndpointHealth {
  const succeeded = r.succeeded ?? 0;
  const failed = r.failed ?? 0;
  return {
    recentMessages: r.recent_messages ?? 0,
    succeeded,
    failed,
    pending: r.pending ?? 0,
    successRate: succeeded + failed > 0 ? succeeded / (succeeded + failed) : null,
    lastAttemptAt: r.last_attempt_at ? r.last_attempt_at.toISOString() : null,
    lastStatusCode: r.last_attempt_status_code,
    lastOutcome: r.last_outcome,
  };
}
