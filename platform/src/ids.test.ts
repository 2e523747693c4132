import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { uuidv7 } from './ids';

describe('uuidv7', () => {
  it('has the version and variant bits of RFC 9562 and the timestamp up front', () => {
    const now = Date.UTC(2026, 10, 25, 12, 0, 0);
    const id = uuidv7(now);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16), now);
  });

  it('sorts in creation order, also within one millisecond', () => {
    const ids = Array.from({ length: 2000 }, () => uuidv7());
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
  });
});
