/** The local refusal cache: the answer Redis would give for a key known to be full, until it frees. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LimitCheck } from './decision';
import { RefusalCache } from './refusals';

const checks: LimitCheck[] = [
  { name: 'tier:free', rule: { limit: 10, windowMs: 60_000 } },
  { name: 'POST /api/v1/orders', rule: { limit: 2, windowMs: 10_000 } },
];
const keys = ['rl:{u:1}:tier:free', 'rl:{u:1}:POST_/api/v1/orders'];
/** As the script answers a refusal bound by the second limit, free again in 4 s. */
const refusedBySecond = [0, Date.now(), 2, 3, -1, 2, 4_000];

describe('RefusalCache', () => {
  it('refuses a remembered key locally until the moment it frees, the other limits untouched', () => {
    const cache = new RefusalCache('log');
    assert.equal(cache.knownRefusal(keys, checks), undefined);
    cache.rememberRefusal(keys, refusedBySecond, Date.now());
    const known = cache.knownRefusal(keys, checks);
    assert.ok(known);
    assert.equal(known.allowed, false);
    assert.equal(known.degraded, false);
    assert.equal(known.binding.name, 'POST /api/v1/orders');
    assert.ok(known.binding.resetMs > 3_900 && known.binding.resetMs <= 4_000, String(known.binding.resetMs));
    assert.deepEqual(known.states[0], { name: 'tier:free', limit: 10, windowMs: 60_000, remaining: 10, resetMs: 60_000 });
  });

  it('forgets a key once its moment has passed', () => {
    const cache = new RefusalCache('log');
    cache.rememberRefusal(keys, refusedBySecond, Date.now() - 5_000);
    assert.equal(cache.knownRefusal(keys, checks), undefined);
  });

  it('remembers nothing for the two-window counter: only the exact log knows when a slot frees', () => {
    const cache = new RefusalCache('window');
    cache.rememberRefusal(keys, refusedBySecond, Date.now());
    assert.equal(cache.knownRefusal(keys, checks), undefined);
  });
});
