/** W3C traceparent parsing and propagation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { childTraceparent, parseTraceparent, traceIdOf } from './trace';

describe('traceparent', () => {
  const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  it('parses a valid header and refuses malformed or all-zero ones', () => {
    assert.deepEqual(parseTraceparent(parent), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: '01' });
    for (const bad of [
      '',
      'junk',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7',
      `ff${parent.slice(2)}`,
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    ])
      assert.equal(parseTraceparent(bad), undefined, bad);
  });
  it('keeps the trace and takes a new span per hop; starts a trace without a parent', () => {
    const child = childTraceparent(parent);
    assert.equal(traceIdOf(child), '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.notEqual(parseTraceparent(child)?.spanId, '00f067aa0ba902b7');
    assert.equal(parseTraceparent(child)?.flags, '01');
    const fresh = childTraceparent(undefined);
    assert.ok(parseTraceparent(fresh));
    assert.notEqual(traceIdOf(fresh), traceIdOf(childTraceparent('garbage')));
  });
});
