/**
 * The per-endpoint rate limit (#18, `rate_limit_per_second`), enforced where messages are claimed, so it
 * holds across every dispatcher: the claim runs while its transaction holds the endpoint's row (one
 * claimer per endpoint), reads what was taken recently, takes at most the rest, and records what it
 * took before it commits. Messages beyond the limit simply stay pending for a later claim.
 *
 * What was taken is kept per 100 ms slot of PostgreSQL's clock (`rate_slots`: `[[slot, count], ...]`, a
 * handful of entries), not per message, so the row stays small at any limit. The clock is the claim's
 * (`clock.at`: `clock_timestamp()` taken once by its locking SELECT, claim.ts), not the transaction's
 * start: a claim that locks the row long after its BEGIN must not record its take in a slot older than
 * one a claim that committed in between recorded. A slot counts for as long
 * as any part of it is within the last second (the current slot and the ten before it): a claim then
 * never sees fewer deliveries than the last second really had, so no 1-second span ever holds more
 * than the limit (the price: the rate can come out up to a tenth below the limit).
 */
import type { TransactionSql } from '@orders/platform';

const SLOT_MS = 100;
const SLOTS_PER_SECOND = 1_000 / SLOT_MS;
const NOW_SLOT = `floor(extract(epoch FROM clock.at) * ${SLOTS_PER_SECOND})::bigint`;
/** Any part of the slot within the last second: the current one and the ten before it. */
const COUNTED = `(s->>0)::bigint > ${NOW_SLOT} - ${SLOTS_PER_SECOND + 1}`;

/**
 * Select-list SQL over the endpoint `e` and the claim's clock `clock.at`: its limit, what counts against
 * it now, its oldest counted slot, and the clock.
 */
export const RATE_COLUMNS = `e.rate_limit_per_second AS rate_limit,
  (SELECT coalesce(sum((s->>1)::int), 0)::int FROM jsonb_array_elements(e.rate_slots) s WHERE ${COUNTED}) AS rate_used,
  (SELECT min((s->>0)::bigint)::float8 FROM jsonb_array_elements(e.rate_slots) s WHERE ${COUNTED}) AS rate_oldest,
  ${NOW_SLOT}::float8 AS now_slot, (extract(epoch FROM clock.at) * 1000)::float8 AS now_ms`;

/** WHERE SQL over `e` and `clock.at`: endpoints without a limit, or with room left under it. */
export const RATE_HAS_ROOM = `(e.rate_limit_per_second IS NULL OR
  (SELECT coalesce(sum((s->>1)::int), 0)::int FROM jsonb_array_elements(e.rate_slots) s WHERE ${COUNTED}) < e.rate_limit_per_second)`;

export interface RateState {
  rate_limit: number | null;
  rate_used: number;
  rate_oldest: number | null;
  now_slot: number;
  now_ms: number;
}

/** How many more the endpoint may take now. */
export const rateRoom = (e: RateState) => (e.rate_limit === null ? Number.POSITIVE_INFINITY : Math.max(0, e.rate_limit - e.rate_used));

/**
 * Adds what this claim took to its slot (`now_slot`, read with the endpoint's row) of each rate-limited
 * endpoint, dropping slots no longer counted at that time.
 */
export async function recordTaken(
  tx: TransactionSql<Record<string, never>>,
  taken: { endpoint_id: string; n: number; now_slot: number }[],
): Promise<void> {
  if (taken.length === 0) return;
  await tx`
    UPDATE webhook_endpoints e SET rate_slots = (
      SELECT coalesce(jsonb_agg(jsonb_build_array(x.slot, x.n) ORDER BY x.slot), '[]'::jsonb)
      FROM (
        SELECT slot, sum(n)::int AS n FROM (
          SELECT (s->>0)::bigint AS slot, (s->>1)::int AS n FROM jsonb_array_elements(e.rate_slots) s
          WHERE (s->>0)::bigint > t.now_slot - ${SLOTS_PER_SECOND + 1}
          UNION ALL SELECT t.now_slot, t.n
        ) all_slots GROUP BY slot
      ) x)
    FROM jsonb_to_recordset(${tx.json(taken as never)}::jsonb) AS t(endpoint_id uuid, n int, now_slot bigint)
    WHERE e.id = t.endpoint_id`;
}

/**
 * In how many ms (from the claim's clock) each endpoint this claim filled to its limit has room again,
 * so the sender can claim then instead of at its next poll. One value per distinct time.
 */
export function roomAgainInMs(filled: RateState[]): number[] {
  const times = new Set<number>();
  for (const e of filled) {
    // The oldest counted slot stops counting once the clock reaches the slot eleven after it.
    const oldest = Math.min(e.rate_oldest ?? e.now_slot, e.now_slot);
    times.add(Math.max(0, (oldest + SLOTS_PER_SECOND + 1) * SLOT_MS - e.now_ms));
  }
  return [...times];
}

/** Most wake-ups a sender keeps (the soonest); an endpoint beyond them waits for the poll. */
const MAX_WAKEUPS = 64;
/** Added to each wake-up, against timer and clock granularity. */
const MARGIN_MS = 5;

/**
 * When a sender claims again for the endpoints it filled to their limits, on its own clock. A time stays
 * until a claim that began at or after it (that claim took what had room, and brought its own times): a
 * claim woken earlier, by a finished attempt, does not see those endpoints and must not lose them. A time
 * is honoured only when the next claim really runs: a busy sender, or one whose claim failed, waits for a
 * finished attempt or the poll instead (its next claim covers the time anyway), never spinning on it.
 */
export class RoomWakeups {
  private times: number[] = [];

  /** After a claim that began at `claimAt` and returned `roomAgainInMs`; counted from now, never early. */
  afterClaim(claimAt: number, roomAgainInMs: number[], now = Date.now()): void {
    const kept = this.times.filter((t) => t > claimAt);
    for (const ms of roomAgainInMs) kept.push(now + ms + MARGIN_MS);
    this.times = kept.sort((a, b) => a - b).slice(0, MAX_WAKEUPS);
  }

  /**
   * How long to wait for the next claim, at most `pollMs`; `claimNext`: whether that claim will run (the
   * sender has room and its last claim did not fail). Times that have passed give one immediate claim and
   * are dropped: that claim begins after them.
   */
  waitMs(pollMs: number, claimNext: boolean, now = Date.now()): number {
    if (!claimNext) return pollMs;
    const next = this.times[0];
    if (next === undefined) return pollMs;
    if (next > now) return Math.min(pollMs, next - now);
    this.times = this.times.filter((t) => t > now);
    return 0;
  }
}
