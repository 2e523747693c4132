/** When a failed delivery is tried again: the platform's retry schedule, and a receiver's `Retry-After`. */

/** Delays before attempts 1..8 (the first is immediate), per the issue; `scale` speeds the clock for tests. */
export const RETRY_SCHEDULE_MS = [0, 5_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 5 * 3_600_000, 10 * 3_600_000, 10 * 3_600_000];

/** The delay before attempt `attempt + 1` after `attempt` failed ones, ±10 % jitter; undefined: give up. */
export function nextDelayMs(attempt: number, scale: number, random = Math.random): number | undefined {
  const base = RETRY_SCHEDULE_MS[attempt];
  if (base === undefined) return undefined;
  return Math.round(base * scale * (0.9 + 0.2 * random()));
}

const RETRY_AFTER_MAX_MS = 24 * 3_600_000;

/** `Retry-After` as ms from now (delta-seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  // Capped: a receiver asking for years (or more than a timestamp holds) waits a day.
  if (/^\d+$/.test(value.trim())) return Math.min(Number(value.trim()) * 1000, RETRY_AFTER_MAX_MS);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - now), RETRY_AFTER_MAX_MS);
}
