/**
 * What a failed webhook attempt means, decided from its answer and the endpoint's record; pure, so
 * record.ts writes what this decides in the attempt's transaction.
 *
 * - The message: its next attempt on the schedule (± jitter), or later on a 429/503's `Retry-After`;
 *   failed for good once the schedule is out, or at once on `410 Gone`.
 * - The endpoint: after `breakerFailures` consecutive failures it is paused for `breakerCooldownMs`
 *   (then claim.ts lets one message through at a time until one succeeds), and a `Retry-After` pauses it
 *   too; after `disableAfterFailures` failures spanning `disableAfterMs` it is disabled, with the reason
 *   kept for its owner. `410 Gone` disables it at once.
 *
 * Every window is multiplied by `timeScale` (tests run the schedule in seconds).
 */
import { nextDelayMs, retryAfterMs } from '@orders/platform';
import type { AttemptResult } from './deliver';

export interface FailurePolicy {
  timeScale: number;
  breakerFailures: number;
  breakerCooldownMs: number;
  disableAfterFailures: number;
  disableAfterMs: number;
}

export type AttemptOutcome = 'succeeded' | 'failed' | 'exhausted' | 'gone';

/** Only a 2xx answer is a success (redirects are not followed). */
export function isSuccess(r: AttemptResult): boolean {
  return r.status !== undefined && r.status >= 200 && r.status < 300;
}

export interface NextStep {
  /** The endpoint answered 410 Gone: it wants no more. */
  gone: boolean;
  /** The receiver's own `Retry-After` (429 or 503), if it gave one. */
  waitMs: number | undefined;
  /** Until the next attempt; undefined when there is none. */
  delayMs: number | undefined;
  /** No further attempt: the message has failed for good. */
  final: boolean;
  outcome: Exclude<AttemptOutcome, 'succeeded'>;
}

/** The message's next step after its `attempt`-th attempt (1-based) failed with `r`. */
export function nextStep(attempt: number, r: AttemptResult, timeScale: number): NextStep {
  const gone = r.status === 410;
  const throttled = r.status === 429 || r.status === 503;
  const waitMs = throttled ? retryAfterMs(r.retryAfter) : undefined;
  const scheduled = nextDelayMs(attempt, timeScale);
  const delayMs = scheduled === undefined ? undefined : Math.max(scheduled, waitMs ?? 0);
  const final = gone || delayMs === undefined;
  return { gone, waitMs, delayMs, final, outcome: gone ? 'gone' : final ? 'exhausted' : 'failed' };
}

/** Why the endpoint is to be disabled after this failure, or null while it stays active. */
export function disableReason(
  policy: FailurePolicy,
  r: AttemptResult,
  step: NextStep,
  endpoint: { consecutiveFailures: number; failingMs: number },
): string | null {
  if (step.gone) return 'the endpoint answered 410 Gone';
  const { consecutiveFailures, failingMs } = endpoint;
  if (consecutiveFailures >= policy.disableAfterFailures && failingMs >= policy.disableAfterMs * policy.timeScale) {
    const what = r.status !== undefined ? `HTTP ${r.status}` : (r.error ?? 'no answer');
    return `${consecutiveFailures} consecutive failed attempts over ${Math.round(failingMs / 1000)} s (last: ${what})`;
  }
  return null;
}

/** How long to pause the whole endpoint: its own Retry-After, or the cool-down once the breaker trips. */
export function pauseMs(policy: FailurePolicy, step: NextStep, consecutiveFailures: number): number {
  return Math.max(step.waitMs ?? 0, consecutiveFailures >= policy.breakerFailures ? policy.breakerCooldownMs * policy.timeScale : 0);
}
