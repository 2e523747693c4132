/** The failure policy on its own (no database): what a failed attempt does to its message and its endpoint. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RETRY_SCHEDULE_MS } from '@orders/platform';
import { disableReason, type FailurePolicy, isSuccess, nextStep, pauseMs } from './policy';

const policy: FailurePolicy = {
  timeScale: 1,
  breakerFailures: 5,
  breakerCooldownMs: 60_000,
  disableAfterFailures: 50,
  disableAfterMs: 1_000,
};

describe('the webhook failure policy', () => {
  it('counts only 2xx as success', () => {
    assert.deepEqual(
      [200, 204, 301, 410, 500].map((status) => isSuccess({ status, ms: 1 })),
      [true, true, false, false, false],
    );
    assert.equal(isSuccess({ error: 'ECONNREFUSED: refused', ms: 1 }), false);
  });

  it('schedules the next attempt, no sooner than a 429/503 Retry-After, and gives up when the schedule is out', () => {
    const failed = nextStep(1, { status: 500, ms: 1 }, 1);
    assert.equal(failed.outcome, 'failed');
    assert.ok(failed.delayMs !== undefined && failed.delayMs >= 4_500 && failed.delayMs <= 5_500);
    const throttled = nextStep(1, { status: 429, retryAfter: '60', ms: 1 }, 1);
    assert.deepEqual([throttled.waitMs, throttled.delayMs, throttled.final], [60_000, 60_000, false]);
    const last = nextStep(RETRY_SCHEDULE_MS.length, { status: 500, ms: 1 }, 1);
    assert.deepEqual([last.final, last.outcome, last.delayMs], [true, 'exhausted', undefined]);
  });

  it('disables the endpoint at once on 410 Gone, and after enough failures over long enough', () => {
    const goneResult = { status: 410, ms: 1 };
    const gone = nextStep(1, goneResult, 1);
    assert.deepEqual([gone.final, gone.outcome], [true, 'gone']);
    assert.equal(disableReason(policy, goneResult, gone, { consecutiveFailures: 1, failingMs: 0 }), 'the endpoint answered 410 Gone');
    const r = { status: 500, ms: 1 };
    const step = nextStep(1, r, 1);
    assert.equal(disableReason(policy, r, step, { consecutiveFailures: 49, failingMs: 5_000 }), null, 'not enough failures');
    assert.equal(disableReason(policy, r, step, { consecutiveFailures: 50, failingMs: 500 }), null, 'not failing for long enough');
    assert.equal(
      disableReason(policy, r, step, { consecutiveFailures: 50, failingMs: 5_000 }),
      '50 consecutive failed attempts over 5 s (last: HTTP 500)',
    );
  });

  it('pauses the endpoint for its Retry-After, or for the cool-down once the breaker trips', () => {
    const throttled = nextStep(1, { status: 503, retryAfter: '120', ms: 1 }, 1);
    assert.equal(pauseMs(policy, throttled, 1), 120_000);
    const failed = nextStep(1, { status: 500, ms: 1 }, 1);
    assert.equal(pauseMs(policy, failed, 4), 0);
    assert.equal(pauseMs(policy, failed, 5), 60_000);
    assert.equal(pauseMs({ ...policy, timeScale: 0.001 }, failed, 5), 60);
  });
});
