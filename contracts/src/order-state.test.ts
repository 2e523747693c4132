import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContractError } from './errors';
import { EVENT_TYPES } from './events';
import {
  assertTransition,
  CANCELLABLE_STATUSES,
  canTransition,
  ORDER_STATUSES,
  STATUS_BY_EVENT,
  TERMINAL_STATUSES,
  TRANSITIONS,
} from './order-state';

describe('order state machine', () => {
  it('walks the happy path pending → validated → paid → reserved → shipped', () => {
    const path = ['pending', 'validated', 'paid', 'reserved', 'shipped'] as const;
    for (let i = 1; i < path.length; i++) assert.doesNotThrow(() => assertTransition(path[i - 1] as string, path[i] as string));
  });

  it('refuses an illegal transition with a stable code and a message naming what is allowed', () => {
    assert.throws(
      () => assertTransition('pending', 'shipped'),
      (err: unknown) =>
        err instanceof ContractError &&
        err.code === 'CONTRACTS_ILLEGAL_TRANSITION' &&
        err.message.includes('validated, rejected, cancelled') &&
        err.retryable === false,
    );
  });

  it('never leaves a final status, not even to itself', () => {
    assert.deepEqual([...TERMINAL_STATUSES].sort(), ['cancelled', 'failed', 'rejected', 'shipped']);
    for (const from of TERMINAL_STATUSES) {
      for (const to of ORDER_STATUSES) assert.equal(canTransition(from, to), false, `${from} → ${to}`);
      assert.throws(() => assertTransition(from, from), /it is final/);
    }
  });

  it('allows cancelling everything before shipment and nothing after', () => {
    assert.deepEqual([...CANCELLABLE_STATUSES], ['pending', 'validated', 'paid', 'reserved']);
    assert.equal(canTransition('shipped', 'cancelled'), false);
  });

  it('refuses unknown statuses rather than guessing', () => {
    assert.throws(() => assertTransition('pending', 'teleported'), { code: 'CONTRACTS_UNKNOWN_STATUS' });
    assert.throws(() => assertTransition('lost', 'pending'), { code: 'CONTRACTS_UNKNOWN_STATUS' });
  });

  it('maps only known events to statuses, and every status but pending is reachable from some event', () => {
    for (const type of Object.keys(STATUS_BY_EVENT)) assert.ok((EVENT_TYPES as string[]).includes(type), type);
    const reached = new Set(Object.values(STATUS_BY_EVENT));
    for (const s of ORDER_STATUSES.filter((x) => x !== 'pending')) assert.ok(reached.has(s), `no event leads to ${s}`);
  });

  it('keeps every transition target a known status and every status reachable from pending', () => {
    const seen = new Set<string>(['pending']);
    const queue: string[] = ['pending'];
    while (queue.length > 0) {
      const s = queue.shift() as keyof typeof TRANSITIONS;
      for (const next of TRANSITIONS[s]) {
        assert.ok((ORDER_STATUSES as readonly string[]).includes(next));
        if (!seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    assert.equal(seen.size, ORDER_STATUSES.length);
  });
});
