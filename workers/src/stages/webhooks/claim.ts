/**
 * Claiming due webhook messages for sending, in one short transaction: lock the active, unblocked
 * endpoints that have due messages (`FOR NO KEY UPDATE SKIP LOCKED`: one dispatcher claims for an
 * endpoint at a time), count each one's leases still running, and lease up to its room of its due
 * messages (oldest first; for an `ordered` endpoint only an order's oldest pending one).
 *
 * A lease is `leasedUntil`: a dispatcher that dies mid-send leaves it to run out, and the message is sent
 * again, with the same `webhook-id` (the receiver's de-duplication key). A recorded success is never
 * sent again. An endpoint's room is `maxInFlightPerEndpoint` minus its running leases, or one while its
 * breaker is tripped (half-open: one message at a time until one succeeds), and never more than its rate
 * limit leaves for the current second (rate.ts), which the claim records in the same transaction.
 */
import type { Sql } from '@orders/platform';
import { RATE_COLUMNS, RATE_HAS_ROOM, type RateState, rateRoom, recordTaken, roomAgainInMs } from './rate';

/** A leased message with what sending it needs. */
export interface Claimed {
  id: string;
  endpoint_id: string;
  url: string;
  payload: unknown;
  attempts: number;
  secret_sealed: string;
  previous_sealed: string | null;
  /** The endpoint's custom headers, sealed (null: none). */
  headers_sealed: string | null;
  traceparent: string | null;
  /**
   * The lease this dispatcher holds: a result is recorded only while it is this one's. Compared as text:
   * a JS Date (and postgres.js's timestamptz parameters) would drop the microseconds.
   */
  lease: string;
}

export interface ClaimLimits {
  maxInFlightPerEndpoint: number;
  /** Consecutive failures that trip an endpoint's breaker. */
  breakerFailures: number;
  /** How long a lease lasts: longer than an attempt can take. */
  leaseMs: number;
}

export interface ClaimResult {
  messages: Claimed[];
  /** In how many ms each endpoint this claim filled to its rate limit has room again (rate.ts). */
  roomAgainInMs: number[];
}

type EndpointState = RateState & { id: string; ordered: boolean; failing: boolean };

/** Leases at most `room` due messages across endpoints, each endpoint within its own bounds. */
export async function claimDue(
  sql: Sql,
  room: number,
  { maxInFlightPerEndpoint, breakerFailures, leaseMs }: ClaimLimits,
): Promise<ClaimResult> {
  const claimed = await sql.begin(async (tx): Promise<ClaimResult> => {
    // The rate limit's clock (rate.ts): taken once, as the rows are locked, not at the transaction's start.
    const endpoints = await tx<EndpointState[]>`
      WITH clock AS MATERIALIZED (SELECT clock_timestamp() AS at)
      SELECT e.id, e.ordered, e.consecutive_failures >= ${breakerFailures} AS failing, ${tx.unsafe(RATE_COLUMNS)}
      FROM webhook_endpoints e CROSS JOIN clock
      WHERE e.status = 'active' AND (e.blocked_until IS NULL OR e.blocked_until <= now())
        AND EXISTS (SELECT 1 FROM webhook_messages m
                    WHERE m.endpoint_id = e.id AND m.status = 'pending' AND m.next_attempt_at <= now()
                      AND (m.leased_until IS NULL OR m.leased_until <= now()))
        -- Endpoints already at their bound are left out before the LIMIT: they cannot starve the rest.
        AND (SELECT count(*) FROM webhook_messages l
             WHERE l.endpoint_id = e.id AND l.leased_until IS NOT NULL AND l.leased_until > now()) < ${maxInFlightPerEndpoint}
        -- …and so are those that used up their rate limit for now.
        AND ${tx.unsafe(RATE_HAS_ROOM)}
      ORDER BY e.updated_at
      LIMIT 500
      -- NO KEY: still one claimer per endpoint, without blocking the fan-out's inserts (their FK lock).
      FOR NO KEY UPDATE OF e SKIP LOCKED`;
    if (endpoints.length === 0) return { messages: [], roomAgainInMs: [] };
    const ids = endpoints.map((e) => e.id);
    const busy = new Map(
      (
        await tx<{ endpoint_id: string; n: number }[]>`
          SELECT endpoint_id, count(*)::int AS n FROM webhook_messages
          WHERE endpoint_id IN ${tx(ids)} AND leased_until IS NOT NULL AND leased_until > now()
          GROUP BY endpoint_id`
      ).map((r) => [r.endpoint_id, r.n]),
    );
    // A tripped breaker (half-open) lets one message through at a time until one succeeds.
    const rooms = endpoints
      .map((e) => ({
        endpoint_id: e.id,
        ordered: e.ordered,
        room: Math.min((e.failing ? 1 : maxInFlightPerEndpoint) - (busy.get(e.id) ?? 0), rateRoom(e)),
      }))
      .filter((r) => r.room > 0);
    if (rooms.length === 0) return { messages: [], roomAgainInMs: [] };
    // Per endpoint, its oldest due messages up to its room, straight off the (endpoint_id, seq) index.
    const messages = await tx<Claimed[]>`
      UPDATE webhook_messages m
      SET leased_until = now() + ${leaseMs} * interval '1 millisecond', updated_at = now()
      FROM (
        SELECT pick.id FROM jsonb_to_recordset(${tx.json(rooms as never)}::jsonb) AS r(endpoint_id uuid, ordered boolean, room int)
        CROSS JOIN LATERAL (
          SELECT c.id, c.seq FROM webhook_messages c
          WHERE c.endpoint_id = r.endpoint_id AND c.status = 'pending' AND c.next_attempt_at <= now()
            AND (c.leased_until IS NULL OR c.leased_until <= now())
            AND (NOT r.ordered OR NOT EXISTS (
                  SELECT 1 FROM webhook_messages p
                  WHERE p.endpoint_id = c.endpoint_id AND p.order_id = c.order_id AND p.status = 'pending' AND p.seq < c.seq))
          ORDER BY c.seq
          LIMIT r.room
        ) pick
        ORDER BY pick.seq
        LIMIT ${room}
      ) chosen, webhook_endpoints e
      WHERE m.id = chosen.id AND e.id = m.endpoint_id
        -- Re-checked on the row itself: a message recorded meanwhile by another dispatcher is not taken.
        AND m.status = 'pending' AND (m.leased_until IS NULL OR m.leased_until <= now())
      RETURNING m.id, m.endpoint_id, e.url, m.payload, m.attempts, e.secret_sealed, e.headers_sealed, m.traceparent,
                m.leased_until::text AS lease, CASE WHEN e.previous_expires_at > now() THEN e.previous_sealed END AS previous_sealed`;
    // The rate-limited endpoints' share of this claim, recorded before the commit that hands the leases out.
    const taken = new Map<string, number>();
    for (const m of messages) taken.set(m.endpoint_id, (taken.get(m.endpoint_id) ?? 0) + 1);
    const limited = endpoints.filter((e) => e.rate_limit !== null && taken.has(e.id));
    await recordTaken(
      tx,
      limited.map((e) => ({ endpoint_id: e.id, n: taken.get(e.id) ?? 0, now_slot: e.now_slot })),
    );
    const filled = limited.filter((e) => (taken.get(e.id) ?? 0) >= rateRoom(e));
    return { messages: [...messages], roomAgainInMs: roomAgainInMs(filled) };
  });
  return claimed as ClaimResult;
}
