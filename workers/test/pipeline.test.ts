/**
 * The whole order pipeline on real Kafka, PostgreSQL, Redis and the simulated payment provider:
 * validator → payment → inventory → fulfillment, with the status projector, each its own consumer group.
 *
 * Longer than the other files on purpose: every case shares one fixture (five stages, their consumer
 * groups and topics, the provider simulator), which takes seconds to start and join; split into files,
 * each would start its own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConsumerGroups, ContractErrorCodes, DeadLetterHeaders, deadLetterTopic, EventHeaders, Events, Topics } from '@orders/contracts';
import { eventually } from '@orders/platform/testing';
import { WorkerErrorCodes } from '../src/error-codes';
import { headerMap } from '../src/runtime/headers';
import { RetryableError } from '../src/runtime/stage';
import { PaymentProvider } from '../src/stages/payment/provider';
import { CompensationReasons, PaymentFailureReasons, RejectionReasons } from '../src/stages/reasons';
import { type Fixture, fixture, uuidv7 } from './support';

let f: Fixture;

before(async () => {
  f = await fixture({ stages: ['validator', 'payment', 'inventory', 'fulfillment', 'projector'] });
});

after(async () => {
  await f.close();
});

async function order(orderId: string) {
  const [o] = await f.sql<{ status: string; version: number; status_reason: string | null }[]>`
    SELECT status, version, status_reason FROM orders WHERE id = ${orderId}`;
  return o;
}

async function history(orderId: string) {
  const rows = await f.sql<{ to_status: string }[]>`SELECT to_status FROM order_status_history WHERE order_id = ${orderId} ORDER BY id`;
  return rows.map((r) => r.to_status);
}

async function stockOf(sku: string) {
  const [p] = await f.sql<{ stock: number }[]>`SELECT stock FROM products WHERE sku = ${sku}`;
  return p?.stock as number;
}

const FINAL = new Set(['shipped', 'cancelled', 'rejected', 'failed']);
const until = (orderId: string, status?: string) =>
  eventually(
    async () => {
      const o = await order(orderId);
      return o && (status ? o.status === status : FINAL.has(o.status)) ? o : undefined;
    },
    { what: `order ${orderId} ${status ?? 'in a final status'}`, timeoutMs: 20_000 },
  );

const place = (s: Parameters<Fixture['place']>[0]) => f.place(s);

describe('the order pipeline', () => {
  it('takes a paid order all the way to shipped: charge, reservation, shipment, every status announced', async () => {
    const s = await f.seedOrder();
    const before = await stockOf('MUG-BLUE');
    await place(s);
    await until(s.orderId, 'shipped');
    assert.deepEqual(await history(s.orderId), ['validated', 'paid', 'reserved', 'shipped']);
    const [p] = await f.sql`SELECT status, amount_cents FROM payments WHERE order_id = ${s.orderId}`;
    assert.deepEqual({ ...p }, { status: 'authorized', amount_cents: 2598 });
    const [r] = await f.sql`SELECT status FROM reservations WHERE order_id = ${s.orderId}`;
    assert.equal(r?.status, 'reserved');
    assert.equal(await stockOf('MUG-BLUE'), before - 2);
    const [sh] = await f.sql`SELECT carrier, tracking_number FROM shipments WHERE order_id = ${s.orderId}`;
    assert.ok(sh?.tracking_number);
    assert.equal((await f.charges(s.orderId)).length, 1);
    const feed = (await f.redis.zrange(f.feedKeys.recent(s.userId), 0, -1)).map((j) => JSON.parse(j).status);
    assert.deepEqual(feed, ['validated', 'paid', 'reserved', 'shipped']);
  });

  it('ends a declined payment in failed, with nothing reserved', async () => {
    const s = await f.seedOrder('pending', { token: 'pm_decline_insufficient_funds' });
    await place(s);
    const o = await until(s.orderId);
    assert.equal(o.status, 'failed');
    assert.match(o.status_reason ?? '', new RegExp(PaymentFailureReasons.cardDeclined));
    assert.equal((await f.sql`SELECT 1 FROM payments WHERE order_id = ${s.orderId}`).length, 0);
    assert.equal((await f.sql`SELECT 1 FROM reservations WHERE order_id = ${s.orderId}`).length, 0);
  });

  it('ends an out-of-stock order in failed and refunds the charge; stock untouched', async () => {
    const sku = `RARE-${uuidv7().slice(-8).toUpperCase()}`;
    await f.sql`INSERT INTO products (sku, name, price_cents, currency, stock) VALUES (${sku}, 'Rare', 500, 'EUR', 1)`;
    const s = await f.seedOrder('pending', { sku, quantity: 2, unitPriceCents: 500 });
    await place(s);
    const o = await until(s.orderId);
    assert.equal(o.status, 'failed');
    assert.match(o.status_reason ?? '', new RegExp(CompensationReasons.outOfStock));
    await eventually(async () => (await f.sql`SELECT 1 FROM payments WHERE order_id = ${s.orderId} AND status = 'refunded'`).length === 1, {
      what: 'the charge refunded',
      timeoutMs: 15_000,
    });
    const [charge] = await f.charges(s.orderId);
    assert.equal(charge?.refunded, 1000);
    assert.equal(await stockOf(sku), 1);
  });

  it('never sells more than there is: 8 orders for 5 in stock, across partitions, reserve exactly 5', async () => {
    const sku = `SCARCE-${uuidv7().slice(-8).toUpperCase()}`;
    await f.sql`INSERT INTO products (sku, name, price_cents, currency, stock) VALUES (${sku}, 'Scarce', 700, 'EUR', 5)`;
    const seeded = await Promise.all(Array.from({ length: 8 }, () => f.seedOrder('pending', { sku, quantity: 1, unitPriceCents: 700 })));
    await Promise.all(seeded.map((s) => place(s)));
    const finals = await Promise.all(seeded.map((s) => until(s.orderId)));
    const count = (status: string) => finals.filter((o) => o.status === status).length;
    assert.equal(count('shipped'), 5);
    assert.equal(count('failed'), 3);
    assert.equal(await stockOf(sku), 0);
    const [r] = await f.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM reservations WHERE order_id IN ${f.sql(seeded.map((s) => s.orderId))} AND status = 'reserved'`;
    assert.equal(r?.n, 5);
    // The three that found nothing left are refunded.
    await eventually(
      async () => {
        const [p] = await f.sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM payments WHERE order_id IN ${f.sql(seeded.map((s) => s.orderId))} AND status = 'refunded'`;
        return p?.n === 3;
      },
      { what: 'the three orders without stock refunded', timeoutMs: 15_000 },
    );
  });

  it('a charge whose key is still being worked on is refused as busy (retryable), never taken twice', async () => {
    const provider = new PaymentProvider({ url: f.providerUrl, timeoutMs: 1_000 });
    const reference = uuidv7();
    // pm_slow: the provider holds the first attempt under this key far longer than the client waits.
    const req = { amountCents: 1_500, currency: 'EUR', token: 'pm_slow_issuer', reference };
    const first = provider.charge(`charge:${reference}:1`, req).catch((err: unknown) => err);
    // Not a wait for a condition but an ordering: the first request must reach the provider before the
    // second. The simulator shows nothing of a request in progress, and probing with a request under the
    // key would itself be an attempt (sent first, it would be the one that hangs).
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(
      provider.charge(`charge:${reference}:1`, req),
      (err) => err instanceof RetryableError && err.code === WorkerErrorCodes.paymentProviderBusy,
    );
    assert.ok((await first) instanceof RetryableError, 'the first attempt timed out on the client');
    assert.equal((await f.charges(reference)).length, 0);
  });

  it('retries a payment the provider failed with a 5xx (retry topic) and charges exactly once', async () => {
    const s = await f.seedOrder('pending', { token: 'pm_flaky_network' });
    await place(s);
    await until(s.orderId, 'shipped');
    assert.equal((await f.charges(s.orderId)).length, 1);
  });

  it('applies a redelivered event once: same outputs, no second transition, no second feed entry', async () => {
    const s = await f.seedOrder('pending', { token: 'pm_decline' });
    const validated = { eventId: uuidv7(), occurredAt: Date.now(), orderId: s.orderId, userId: s.userId, riskScore: 0.1, revision: null };
    const bytes = f.codec.encode(Events.OrderValidated, validated);
    await f.produce(s.orderId, bytes);
    await f.produce(s.orderId, bytes);
    await f.produce(s.orderId, bytes);
    await until(s.orderId, 'failed');
    assert.deepEqual(await history(s.orderId), ['validated', 'failed']);
    const [row] = await f.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM processed_events WHERE consumer_group = ${ConsumerGroups.projector} AND event_id = ${validated.eventId}`;
    assert.equal(row?.n, 1);
    const stored = await f.redis.zrange(f.feedKeys.recent(s.userId), 0, -1, 'WITHSCORES');
    assert.deepEqual(
      stored.filter((_, i) => i % 2 === 1),
      ['1', '2'],
    );
  });

  it('decides a redelivered order once: every copy sends the first verdict again, under its event id', async () => {
    const s = await f.seedOrder('pending', { token: 'pm_decline' });
    const placed = f.placedFor(s);
    const bytes = f.codec.encode(Events.OrderPlaced, placed);
    for (let i = 0; i < 3; i++) await f.produce(s.orderId, bytes);
    await until(s.orderId, 'failed');
    const [row] = await f.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM processed_events WHERE consumer_group = ${ConsumerGroups.validator} AND event_id = ${placed.eventId}`;
    assert.equal(row?.n, 1);
    const isVerdict = (m: Parameters<typeof headerMap>[0]) =>
      String(m.key) === s.orderId && headerMap(m)[EventHeaders.eventType] === Events.OrderValidated;
    const verdicts = await f.read(Topics.orderEvents, (ms) => ms.some(isVerdict));
    const ids = new Set(verdicts.filter(isVerdict).map((m) => headerMap(m)[EventHeaders.eventId]));
    assert.equal(ids.size, 1, 'one verdict, however often it was sent');
    assert.deepEqual(await history(s.orderId), ['validated', 'failed']);
  });

  it('ignores a status event its order is already past, and records it as processed', async () => {
    const s = await f.seedOrder('cancelled');
    const late = { eventId: uuidv7(), occurredAt: Date.now(), orderId: s.orderId, userId: s.userId, riskScore: 0.1, revision: null };
    await f.produce(s.orderId, f.codec.encode(Events.OrderValidated, late));
    // Both the projector and the payment stage have seen it before anything is judged.
    await eventually(
      async () => {
        const rows = await f.sql`
          SELECT 1 FROM processed_events WHERE consumer_group IN (${ConsumerGroups.projector}, ${ConsumerGroups.payment}) AND event_id = ${late.eventId}`;
        return rows.length === 2;
      },
      { what: 'the late event processed by the projector and the payment stage', timeoutMs: 15_000 },
    );
    assert.deepEqual({ ...(await order(s.orderId)) }, { status: 'cancelled', version: 1, status_reason: null });
    assert.equal(await f.redis.zcard(f.feedKeys.recent(s.userId)), 0);
    assert.equal((await f.charges(s.orderId)).length, 0, 'a cancelled order is never charged');
  });

  it('dead-letters a poison message with the reason and moves on to the next one on the partition', async () => {
    const s = await f.seedOrder('pending', { token: 'pm_decline' });
    await f.produce(s.orderId, Buffer.from('{"not":"avro"}'));
    await f.produce(
      s.orderId,
      f.codec.encode(Events.OrderValidated, {
        eventId: uuidv7(),
        occurredAt: Date.now(),
        orderId: s.orderId,
        userId: s.userId,
        riskScore: 0,
        revision: null,
      }),
    );
    await until(s.orderId, 'failed');
    const dlq = await f.read(deadLetterTopic(ConsumerGroups.projector), (ms) => ms.some((m) => String(m.key) === s.orderId));
    const dead = dlq.find((m) => String(m.key) === s.orderId);
    assert.ok(dead, 'the poison message is in the projector DLQ');
    assert.equal(String(dead.value), '{"not":"avro"}');
    const h = headerMap(dead);
    assert.equal(h[DeadLetterHeaders.errorCode], ContractErrorCodes.badMagic);
    assert.equal(h[DeadLetterHeaders.stage], 'projector');
    assert.equal(h[DeadLetterHeaders.attempts], '1');
    assert.ok(h[DeadLetterHeaders.originalTopic]?.endsWith('orders.events'));
  });

  it('dead-letters an event for an order that does not exist, without retrying it', async () => {
    const orderId = uuidv7();
    await f.produce(
      orderId,
      f.codec.encode(Events.OrderRejected, {
        eventId: uuidv7(),
        occurredAt: Date.now(),
        orderId,
        userId: uuidv7(),
        code: 'X',
        reason: 'y',
        revision: null,
      }),
    );
    const dlq = await f.read(deadLetterTopic(ConsumerGroups.projector), (ms) => ms.some((m) => String(m.key) === orderId));
    const dead = dlq.find((m) => String(m.key) === orderId);
    assert.ok(dead, 'the event is in the projector DLQ');
    const h = headerMap(dead);
    assert.equal(h[DeadLetterHeaders.errorCode], WorkerErrorCodes.projectorUnknownOrder);
    assert.equal(h[DeadLetterHeaders.attempts], '1');
  });

  it('rejects an order whose product is no longer sold', async () => {
    const seeded = await f.seedOrder();
    // The event names a product the catalogue no longer sells.
    const s = { ...seeded, items: [{ sku: 'NOT-IN-CATALOGUE', quantity: 1, unitPriceCents: 100 }], totalCents: 100 };
    await place(s);
    const o = await until(s.orderId);
    assert.equal(o.status, 'rejected');
    assert.equal(o.status_reason, `${RejectionReasons.productUnavailable}: no longer sold: NOT-IN-CATALOGUE`);
  });

  it('ignores a verdict on a revision the customer has since changed, and applies the one on the current revision', async () => {
    const s = await f.seedOrder('pending', { token: 'pm_decline' });
    await f.sql`UPDATE orders SET revision = 2 WHERE id = ${s.orderId}`;
    const stale = { eventId: uuidv7(), occurredAt: Date.now(), orderId: s.orderId, userId: s.userId, riskScore: 0.1, revision: 1 };
    const current = {
      eventId: uuidv7(),
      occurredAt: Date.now(),
      orderId: s.orderId,
      userId: s.userId,
      code: RejectionReasons.amountLimit,
      reason: 'too much',
      revision: 2,
    };
    await f.produce(s.orderId, f.codec.encode(Events.OrderValidated, stale));
    await f.produce(s.orderId, f.codec.encode(Events.OrderRejected, current));
    await until(s.orderId, 'rejected');
    assert.deepEqual(await history(s.orderId), ['rejected']);
  });

  it('announces a change the gateway already applied (same event id in the history) without applying it twice', async () => {
    const s = await f.seedOrder();
    await f.cancel(s.orderId, s.userId);
    const entries = await eventually(
      async () => {
        const xs = await f.redis.zrange(f.feedKeys.recent(s.userId), 0, -1);
        return xs.length > 0 ? xs : undefined;
      },
      { what: 'the cancellation on the feed', timeoutMs: 15_000 },
    );
    const update = JSON.parse(entries[0] ?? '{}');
    assert.deepEqual([update.status, update.previousStatus, update.version, update.reason], ['cancelled', 'pending', 2, 'test']);
    const [n] = await f.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM order_status_history WHERE order_id = ${s.orderId}`;
    assert.equal(n?.n, 1);
  });

  it('publishes every applied change on orders.status', async () => {
    const s = await f.seedOrder('pending', { token: 'pm_decline' });
    await place(s);
    await until(s.orderId, 'failed');
    const changes = await f.read(Topics.orderStatus, (ms) => ms.filter((m) => String(m.key) === s.orderId).length >= 2);
    const mine = await Promise.all(changes.filter((m) => String(m.key) === s.orderId).map((m) => f.codec.decode(m.value as Buffer)));
    assert.deepEqual(
      mine.map((d) => (d.payload as { toStatus: string }).toStatus),
      ['validated', 'failed'],
    );
  });
});
