/**
 * Each hop is woken by its message, not by a poll: with every stage's consumer waiting up to five
 * seconds per consume call, orders still cross all five stages well inside one such wait. This fails
 * if a batch waits out its timeout once it has a message (node-rdkafka's `consume(n)` does, for each
 * next message), or if the consumers queue behind each other for libuv pool threads (ten consumers
 * each hold one while they wait).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '@orders/platform/testing';
import { type Fixture, fixture } from './support';

const CONSUME_TIMEOUT_MS = 5_000;
let f: Fixture;

before(async () => {
  f = await fixture({ stages: ['validator', 'payment', 'inventory', 'fulfillment', 'projector'], consumeTimeoutMs: CONSUME_TIMEOUT_MS });
});

after(async () => {
  await f.close();
});

describe('waking each hop', () => {
  it('takes an order through all five stages in less than one consume timeout, each time', async () => {
    // Once the consumers are idle in their long waits (the first order also covers joining the group).
    const warm = await f.seedOrder();
    await f.place(warm);
    await eventually(async () => (await f.sql`SELECT 1 FROM orders WHERE id = ${warm.orderId} AND status = 'shipped'`).length > 0, {
      what: 'the warm-up order shipped',
      timeoutMs: 30_000,
    });
    for (let i = 0; i < 3; i++) {
      const s = await f.seedOrder();
      const started = Date.now();
      await f.place(s);
      await eventually(async () => (await f.sql`SELECT 1 FROM orders WHERE id = ${s.orderId} AND status = 'shipped'`).length > 0, {
        what: `order ${i + 1} shipped`,
        timeoutMs: 4 * CONSUME_TIMEOUT_MS,
      });
      const took = Date.now() - started;
      assert.ok(took < CONSUME_TIMEOUT_MS, `order ${i + 1} took ${took} ms across five hops; one consume wait is ${CONSUME_TIMEOUT_MS} ms`);
    }
  });
});
