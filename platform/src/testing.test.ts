import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from './testing';

test('eventually returns the first value that is not undefined, null or false', async () => {
  let calls = 0;
  const value = await eventually(() => (++calls < 3 ? false : { calls }), { what: 'the third call', everyMs: 1 });
  assert.deepEqual(value, { calls: 3 });
});

test('eventually returns 0 and empty strings: only undefined, null and false mean "not yet"', async () => {
  assert.equal(await eventually(() => 0, { what: 'zero' }), 0);
  assert.equal(await eventually(() => '', { what: 'empty' }), '');
});

test('eventually throws naming what it waited for, with the last error', async () => {
  await assert.rejects(
    eventually(
      () => {
        throw new Error('connection refused');
      },
      { what: 'the receiver', timeoutMs: 30, everyMs: 5 },
    ),
    /timed out after 30 ms waiting for the receiver; last error: connection refused/,
  );
  await assert.rejects(
    eventually(() => undefined, { what: 'nothing', timeoutMs: 20, everyMs: 5 }),
    /waiting for nothing$/,
  );
});
