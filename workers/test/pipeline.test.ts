import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConsumerGroups, deadLetterTopic, Events, Topics } from '@orders/contracts';
import { samplePayloads } from '@orders/contracts/testing/samples';
import { projectorStage } from '../src/stages/projector/index';
import { validatorStage } from '../src/stages/validator/index';
import { type Fixture, fixture, uuidv7 } from './support';

let f: Fixture;

before(async () => {
  f = await fixture();
  await f.run(validatorStage);
  await f.run(projectorStage);
});

after(async () => {
  await f.close();
});

function headers(m: { headers?: Record<string, string | Buffer>[] }): Record<string, string> {
  return Object.fromEntries((m.headers ?? []).flatMap((h) => Object.entries(h).map(([k, v]) => [k, String(v)])));
}

async function status(orderId: string) {
  const [o] = await f.sql<{ status: string; version: number }[]>`SELECT status, version FROM orders WHERE id = ${orderId}`;
  return o;
}

describe('validator + status projector on real Kafka, PostgreSQL and Redis', () => {
  it('takes a placed order to validated: order, history, feed update and order.status_changed', async () => {
    const { userId, orderId } = await f.seedOrder();
    const placed = {
      ...samplePayloads['order.placed'],
      eventId: uuidv7(),
      orderId,
      userId,
      items: [{ sku: 'MUG-BLUE', quantity: 2, unitPriceCents: 1299 }],
      totalCents: 2598,
    };
    await f.produce(orderId, f.codec.encode(Events.OrderPlaced, placed));
    await f.waitFor(async () => (await status(orderId))?.status === 'validated');
    assert.deepEqual(await status(orderId), { status: 'validated', version: 2 });
    const history = await f.sql`SELECT from_status, to_status, version FROM order_status_history WHERE order_id = ${orderId}`;
    assert.deepEqual(
      history.map((h) => [h.from_status, h.to_status, h.version]),
      [['pending', 'validated', 2]],
    );
    const stored = await f.redis.zrange(f.feedKeys.recent(userId), 0, -1);
    assert.equal(stored.length, 1);
    const update = JSON.parse(stored[0] ?? '{}');
    assert.deepEqual([update.seq, update.orderId, update.status, update.previousStatus], [1, orderId, 'validated', 'pending']);
    const changes = await f.read(Topics.orderStatus, (ms) => ms.some((m) => String(m.key) === orderId));
    const decoded = await f.codec.decode(changes.find((m) => String(m.key) === orderId)?.value as Buffer);
    assert.equal(decoded.type, Events.OrderStatusChanged);
    assert.deepEqual([decoded.payload.orderId, (decoded.payload as { toStatus: string }).toStatus], [orderId, 'validated']);
  });

  it('applies a redelivered event once: same outputs, no second transition, no second feed entry', async () => {
    const { userId, orderId } = await f.seedOrder();
    const validated = { eventId: uuidv7(), occurredAt: Date.now(), orderId, userId, riskScore: 0.1, revision: null };
    const bytes = f.codec.encode(Events.OrderValidated, validated);
    await f.produce(orderId, bytes);
    await f.produce(orderId, bytes);
    await f.produce(orderId, bytes);
    // A later, different event on the same partition proves the duplicates were consumed before it.
    const paid = { eventId: uuidv7(), occurredAt: Date.now(), orderId, userId, paymentId: 'pay_1', amountCents: 2598, currency: 'EUR' };
    await f.produce(orderId, f.codec.encode(Events.PaymentAuthorized, paid));
    await f.waitFor(async () => (await status(orderId))?.status === 'paid');
    assert.deepEqual(await status(orderId), { status: 'paid', version: 3 });
    const [row] = await f.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM processed_events WHERE consumer_group = ${ConsumerGroups.projector} AND event_id = ${validated.eventId}`;
    assert.equal(row?.n, 1);
    const stored = await f.redis.zrange(f.feedKeys.recent(userId), 0, -1, 'WITHSCORES');
    assert.deepEqual(
      stored.filter((_, i) => i % 2 === 1),
      ['1', '2'],
    );
  });

  it('ignores a status event its order is already past, and records it as processed', async () => {
    const { userId, orderId } = await f.seedOrder('cancelled');
    const late = { eventId: uuidv7(), occurredAt: Date.now(), orderId, userId, riskScore: 0.1, revision: null };
    await f.produce(orderId, f.codec.encode(Events.OrderValidated, late));
    await f.waitFor(async () => {
      const rows =
        await f.sql`SELECT 1 FROM processed_events WHERE consumer_group = ${ConsumerGroups.projector} AND event_id = ${late.eventId}`;
      return rows.length === 1;
    });
    assert.deepEqual(await status(orderId), { status: 'cancelled', version: 1 });
    assert.equal(await f.redis.zcard(f.feedKeys.recent(userId)), 0);
  });

  it('dead-letters a poison message with the reason and moves on to the next one on the partition', async () => {
    const { userId, orderId } = await f.seedOrder();
    await f.produce(orderId, Buffer.from('{"not":"avro"}'));
    await f.produce(
      orderId,
      f.codec.encode(Events.OrderValidated, { eventId: uuidv7(), occurredAt: Date.now(), orderId, userId, riskScore: 0, revision: null }),
    );
    await f.waitFor(async () => (await status(orderId))?.status === 'validated');
    const dlq = await f.read(deadLetterTopic(ConsumerGroups.projector), (ms) => ms.some((m) => String(m.key) === orderId));
    const dead = dlq.find((m) => String(m.key) === orderId);
    assert.ok(dead, 'the poison message is in the projector DLQ');
    assert.equal(String(dead.value), '{"not":"avro"}');
    const h = headers(dead);
    assert.equal(h['dlq-error-code'], 'CONTRACTS_BAD_MAGIC_BYTE');
    assert.equal(h['dlq-stage'], 'projector');
    assert.equal(h['dlq-attempts'], '1');
    assert.ok(h['dlq-original-topic']?.endsWith('orders.events'));
  });

  it('dead-letters an event for an order that does not exist, without retrying it', async () => {
    const orderId = uuidv7();
    await f.produce(
      orderId,
      f.codec.encode(Events.OrderValidated, {
        eventId: uuidv7(),
        occurredAt: Date.now(),
        orderId,
        userId: uuidv7(),
        riskScore: 0,
        revision: null,
      }),
    );
    const dlq = await f.read(deadLetterTopic(ConsumerGroups.projector), (ms) => ms.some((m) => String(m.key) === orderId));
    const h = headers(dlq.find((m) => String(m.key) === orderId) ?? {});
    assert.equal(h['dlq-error-code'], 'PROJECTOR_UNKNOWN_ORDER');
    assert.equal(h['dlq-attempts'], '1');
  });

  it('rejects an order whose product is no longer sold', async () => {
    const { userId, orderId } = await f.seedOrder();
    const placed = {
      ...samplePayloads['order.placed'],
      eventId: uuidv7(),
      orderId,
      userId,
      items: [{ sku: 'NOT-IN-CATALOGUE', quantity: 1, unitPriceCents: 100 }],
      totalCents: 100,
    };
    await f.produce(orderId, f.codec.encode(Events.OrderPlaced, placed));
    await f.waitFor(async () => (await status(orderId))?.status === 'rejected');
    const [o] = await f.sql<{ status_reason: string }[]>`SELECT status_reason FROM orders WHERE id = ${orderId}`;
    assert.equal(o?.status_reason, 'PRODUCT_UNAVAILABLE: no longer sold: NOT-IN-CATALOGUE');
  });

  it('ignores a verdict on a revision the customer has since changed, and applies the one on the current revision', async () => {
    const { userId, orderId } = await f.seedOrder();
    await f.sql`UPDATE orders SET revision = 2 WHERE id = ${orderId}`;
    const stale = { eventId: uuidv7(), occurredAt: Date.now(), orderId, userId, riskScore: 0.1, revision: 1 };
    const current = { eventId: uuidv7(), occurredAt: Date.now(), orderId, userId, code: 'AMOUNT_LIMIT', reason: 'too much', revision: 2 };
    await f.produce(orderId, f.codec.encode(Events.OrderValidated, stale));
    await f.produce(orderId, f.codec.encode(Events.OrderRejected, current));
    await f.waitFor(async () => (await status(orderId))?.status === 'rejected');
    const history = await f.sql`SELECT to_status FROM order_status_history WHERE order_id = ${orderId}`;
    assert.deepEqual(
      history.map((h) => h.to_status),
      ['rejected'],
    );
  });

  it('announces a change the gateway already applied (same event id in the history) without applying it twice', async () => {
    const { userId, orderId } = await f.seedOrder();
    const eventId = uuidv7();
    await f.sql`UPDATE orders SET status = 'cancelled', version = 2 WHERE id = ${orderId}`;
    await f.sql`
      INSERT INTO order_status_history (order_id, from_status, to_status, reason, version, event_id)
      VALUES (${orderId}, 'pending', 'cancelled', 'changed my mind', 2, ${eventId})`;
    const cancelled = {
      eventId,
      occurredAt: Date.now(),
      orderId,
      userId,
      reason: 'changed my mind',
      cancelledBy: userId,
      previousStatus: 'pending',
    };
    await f.produce(orderId, f.codec.encode(Events.OrderCancelled, cancelled));
    const entries = await f.waitFor(async () => {
      const xs = await f.redis.zrange(f.feedKeys.recent(userId), 0, -1);
      return xs.length > 0 ? xs : undefined;
    });
    const update = JSON.parse(entries[0] ?? '{}');
    assert.deepEqual([update.status, update.previousStatus, update.version, update.reason], ['cancelled', 'pending', 2, 'changed my mind']);
    assert.deepEqual(await status(orderId), { status: 'cancelled', version: 2 });
    const [n] = await f.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM order_status_history WHERE order_id = ${orderId}`;
    assert.equal(n?.n, 1);
  });
});
