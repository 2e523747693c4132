/** The retry schedule and Retry-After. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextDelayMs, RETRY_SCHEDULE_MS, retryAfterMs } from './schedule';

describe('retry schedule', () => {
  it('follows immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, with ±10 % jitter, then gives up', () => {
    assert.deepEqual(
      RETRY_SCHEDULE_MS.map((_, i) => nextDelayMs(i, 1, () => 0.5)),
      [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
    );
    assert.equal(nextDelayMs(8, 1), undefined);
    assert.equal(
      nextDelayMs(1, 1, () => 0),
      4_500,
    );
    assert.equal(
      nextDelayMs(1, 1, () => 1),
      5_500,
    );
    assert.equal(
      nextDelayMs(2, 0.001, () => 0.5),
      300,
    );
  });
  it('reads Retry-After as seconds or an HTTP date', () => {
    assert.equal(retryAfterMs('3'), 3_000);
    assert.equal((retryAfterMs(new Date(Date.now() + 10_000).toUTCString(), Date.now()) as number) > 8_000, true);
    assert.equal(retryAfterMs('soon'), undefined);
    assert.equal(retryAfterMs('99999999999999999999'), 86_400_000, 'capped at a day');
    assert.equal(retryAfterMs(null), undefined);
  });
});
