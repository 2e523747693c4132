/**
 * An event re-driven by an operator (the gateway's POST /api/v1/admin/pipeline/orders/:id/redrive) as it
 * reaches a stage: on the stage's retry topic with a fresh budget and no not-before time, so it runs at
 * once; an event the stage already processed has no second effect, however often it comes: the recorded
 * outputs go out again under their ids, the charge is not repeated.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConsumerGroups, DeadLetterHeaders, EventHeaders, Events, namespaced, RetryHeaders, retryTopic, Topics } from '@orders/contracts';
import { eventually } from '@orders/platform/testing';
import { headerMap } from '../src/runtime/headers';
import { type Fixture, fixture, uuidv7 } from './support';

let f: Fixture;

before(async () => {
  f = await fixture({ stages: ['payment'] });
});

after(async () => {
  await f.close();
});

describe('a re-driven event', () => {
  it('runs at once from the retry topic and, sent twice after its first delivery, charges once', async () => {
    const s = await f.seedOrder('validated');
    const validated = { eventId: uuidv7(), occurredAt: Date.now(), orderId: s.orderId, userId: s.userId, riskScore: 0.1, revision: 1 };
    const bytes = f.codec.encode(Events.OrderValidated, validated);
    await f.produce(s.orderId, bytes);
    await eventually(async () => (await f.sql`SELECT 1 FROM payments WHERE order_id = ${s.orderId}`).length === 1, {
      what: 'the first delivery charged',
      timeoutMs: 15_000,
    });

    // What the gateway's re-drive sends: the same event, attempt 0, no not-before, marked.
    const headers = {
      [EventHeaders.eventId]: validated.eventId,
      [EventHeaders.eventType]: Events.OrderValidated,
      [RetryHeaders.attempt]: '0',
      [RetryHeaders.originalTopic]: namespaced(Topics.orderEvents, f.namespace),
      [DeadLetterHeaders.redrivenBy]: uuidv7(),
    };
    const retry = namespaced(retryTopic(ConsumerGroups.payment), f.namespace);
    await f.producer.send(retry, s.orderId, bytes, headers);
    await f.producer.send(retry, s.orderId, bytes, headers);

    const isAuthorized = (m: Parameters<typeof headerMap>[0]) =>
      String(m.key) === s.orderId && headerMap(m)[EventHeaders.eventType] === Events.PaymentAuthorized;
    // The first delivery's payment.authorized, then the same again for each re-drive.
    const sent = await f.read(Topics.orderEvents, (ms) => ms.filter(isAuthorized).length >= 3);
    const ids = new Set(sent.filter(isAuthorized).map((m) => headerMap(m)[EventHeaders.eventId]));
    assert.equal(ids.size, 1, 'one payment.authorized, re-sent under its own id');
    assert.equal((await f.charges(s.orderId)).length, 1);
    const [row] = await f.sql<{ payments: number; claims: number }[]>`
      SELECT (SELECT count(*)::int FROM payments WHERE order_id = ${s.orderId}) AS payments,
             (SELECT count(*)::int FROM processed_events WHERE consumer_group = ${ConsumerGroups.payment} AND event_id = ${validated.eventId}) AS claims`;
    assert.deepEqual({ ...row }, { payments: 1, claims: 1 });
  });
});
