/** The rate limit's arithmetic: when a filled endpoint has room again, and the sender's wake-ups. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RoomWakeups, rateRoom, roomAgainInMs } from './rate';

describe('webhook rate limit', () => {
  it('gives the room left under the limit, unlimited without one', () => {
    const clock = { rate_oldest: null, now_slot: 100, now_ms: 10_000 };
    assert.equal(rateRoom({ ...clock, rate_limit: 5, rate_used: 3 }), 2);
    assert.equal(rateRoom({ ...clock, rate_limit: 2, rate_used: 3 }), 0);
    assert.equal(rateRoom({ ...clock, rate_limit: null, rate_used: 0 }), Number.POSITIVE_INFINITY);
  });

  it('frees a slot once it is entirely more than a second old', () => {
    // Filled now, in slot 100 (10 000–10 099 ms), 40 ms into it: room at 11 100 ms.
    assert.deepEqual(roomAgainInMs([{ rate_limit: 2, rate_used: 0, rate_oldest: null, now_slot: 100, now_ms: 10_040 }]), [1_060]);
    // An older slot still counted frees sooner; two endpoints at the same time give one value.
    const older = { rate_limit: 2, rate_used: 1, rate_oldest: 95, now_slot: 100, now_ms: 10_040 };
    assert.deepEqual(roomAgainInMs([older, { ...older }]), [560]);
  });

  it('keeps a wake-up until a claim begins after it', () => {
    const w = new RoomWakeups();
    assert.equal(w.waitMs(1_000, true, 0), 1_000);
    w.afterClaim(0, [300, 900], 10);
    assert.equal(w.waitMs(1_000, true, 10), 305);
    // Woken early by a finished attempt: that claim (at 100) saw neither endpoint; both times stay.
    w.afterClaim(100, [], 110);
    assert.equal(w.waitMs(1_000, true, 110), 205);
    // The claim at 320 served the first; the second stays; a new one joins.
    w.afterClaim(320, [1_000], 330);
    assert.equal(w.waitMs(1_000, true, 330), 585);
    assert.equal(w.waitMs(100, true, 330), 100);
  });

  it('never waits 0 for a passed wake-up when no claim runs next (busy, or the claim failed)', () => {
    const w = new RoomWakeups();
    w.afterClaim(0, [300], 10);
    for (const now of [400, 401, 500]) assert.equal(w.waitMs(1_000, false, now), 1_000);
    // Once a claim will run, the passed time gives it one immediate claim, then is dropped.
    assert.equal(w.waitMs(1_000, true, 600), 0);
    assert.equal(w.waitMs(1_000, true, 601), 1_000);
  });

  it('drops only the wake-ups that have passed', () => {
    const w = new RoomWakeups();
    w.afterClaim(0, [100, 500], 0);
    assert.equal(w.waitMs(1_000, true, 200), 0);
    assert.equal(w.waitMs(1_000, true, 200), 305);
  });
});
