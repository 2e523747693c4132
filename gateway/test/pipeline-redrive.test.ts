/**
 * Re-driving an order against real Kafka and PostgreSQL: the exact recorded event (same id, same bytes)
 * goes to the waiting stage's retry topic, due at once with a fresh budget, marked as re-driven, and is
 * audited; twice sends the same event (which the stage de-duplicates); what is final, unrecorded or
 * changed is refused (409); a send Kafka does not acknowledge is a 503 with nothing audited. Its topics
 * live in a namespace of its own.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { ConsumerGroups, DeadLetterHeaders, EventHeaders, namespaced, RetryHeaders, retryTopic, Topics } from '@orders/contracts';
import { eventually } from '@orders/platform/testing';
import { type Admin, type Consumer, Kafka, logLevel } from 'kafkajs';
import { DomainError } from '../src/errors';
import { PipelineService } from '../src/modules/pipeline/service';
import { MINUTE, pipelineFixtures } from './pipeline-support';
import { suiteGateway } from './support';

const ns = `plr${randomUUID().slice(0, 8)}`;
const gw = suiteGateway({ NAMESPACE: ns });
const fx = pipelineFixtures(gw);
const KAFKA_MS = 60_000;
const topic = (name: string) => namespaced(name, ns);
const validatorRetry = topic(retryTopic(ConsumerGroups.validator));
const paymentRetry = topic(retryTopic(ConsumerGroups.payment));
let admin: Admin;
let consumer: Consumer;
let actor: { accessToken: string; userId: string };
const seen: { topic: string; key: string; value: Buffer; headers: Record<string, string> }[] = [];

beforeAll(async () => {
  const kafka = new Kafka({ brokers: gw.env.KAFKA_BROKERS, clientId: 'pipeline-test', logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [validatorRetry, paymentRetry].map((t) => ({ topic: t, numPartitions: 1 })) });
  consumer = kafka.consumer({ groupId: `pipeline-test-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [validatorRetry, paymentRetry], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
      seen.push({ topic, key: String(message.key), value: message.value as Buffer, headers });
    },
  });
  actor = await gw.user('admin');
}, KAFKA_MS);

afterAll(async () => {
  await consumer?.disconnect();
  await admin.deleteTopics({ topics: [validatorRetry, paymentRetry] }).catch(() => {});
  await admin?.disconnect();
}, KAFKA_MS);

const redrive = (id: string) => gw.call('POST', `/api/v1/admin/pipeline/orders/${id}/redrive`, { token: actor.accessToken });
const sentFor = (orderId: string, n: number) =>
  eventually(() => seen.filter((m) => m.key === orderId).length >= n && seen.filter((m) => m.key === orderId), {
    what: `${n} re-drive(s) of ${orderId} on the retry topic`,
    timeoutMs: 20_000,
  });
const audits = (orderId: string) =>
  gw.sql<{ actor_id: string; detail: Record<string, unknown> }[]>`
    SELECT actor_id, detail FROM admin_audit WHERE action = 'order.redriven' AND target = ${orderId} ORDER BY id`;

/** An order the validator judged (its verdict recorded) and the projector made `validated`. */
async function validatedOrder() {
  const o = await fx.place(await gw.user());
  const verdict = fx.output('order.validated', o);
  await fx.record(ConsumerGroups.validator, o.placedId, 'order.placed', [verdict]);
  await fx.move(o.id, 'validated', { ageMs: 20 * MINUTE, eventId: verdict.payload.eventId });
  return { ...o, verdict };
}

describe('re-drive', () => {
  test(
    'validated: the recorded order.validated goes to payment’s retry topic, audited; twice sends the same event',
    async () => {
      const o = await validatedOrder();
      const r = await redrive(o.id);
      expect(r.status).toBe(202);
      expect(r.json).toMatchObject({
        orderId: o.id,
        stage: 'payment',
        eventId: o.verdict.payload.eventId,
        eventType: 'order.validated',
        topic: paymentRetry,
      });
      expect(Math.abs(Date.parse(String(r.json.redrivenAt)) - Date.now())).toBeLessThan(MINUTE);
      const [first] = await sentFor(o.id, 1);
      expect(first?.topic).toBe(paymentRetry);
      expect(first?.headers).toMatchObject({
        [EventHeaders.eventId]: o.verdict.payload.eventId,
        [EventHeaders.eventType]: 'order.validated',
        [RetryHeaders.attempt]: '0',
        [RetryHeaders.originalTopic]: topic(Topics.orderEvents),
        [DeadLetterHeaders.redrivenBy]: actor.userId,
      });
      expect(first?.headers[EventHeaders.traceparent]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      // No not-before time: the retry consumer runs it at once.
      expect(first?.headers).not.toHaveProperty(RetryHeaders.notBefore);
      expect((await gw.deps.codec.decode(first?.value as Buffer)).payload).toEqual(o.verdict.payload);
      expect([...(await audits(o.id))]).toEqual([
        {
          actor_id: actor.userId,
          detail: { stage: 'payment', eventId: o.verdict.payload.eventId, eventType: 'order.validated', topic: paymentRetry },
        },
      ]);

      expect((await redrive(o.id)).status).toBe(202);
      const [a, b] = await sentFor(o.id, 2);
      // The same event id and bytes: payment de-duplicates by the id, so the second has no effect of its own.
      expect(b?.headers[EventHeaders.eventId]).toBe(a?.headers[EventHeaders.eventId]);
      expect(b?.value.equals(a?.value as Buffer)).toBe(true);
      expect(await audits(o.id)).toHaveLength(2);

      // The records gone (retention): refused, and nothing sent.
      await gw.sql`DELETE FROM processed_events WHERE consumer_group = ${ConsumerGroups.validator} AND event_id = ${o.placedId}`;
      const gone = await redrive(o.id);
      expect(gone.status).toBe(409);
      expect(gone.json.code).toBe('PIPELINE_REDRIVE_UNRECORDED');
      expect(String(gone.json.detail)).toContain('no longer recorded');
      expect(await audits(o.id)).toHaveLength(2);
    },
    KAFKA_MS,
  );

  test(
    'pending: order.placed rebuilt byte for byte goes to the validator’s retry topic',
    async () => {
      const o = await fx.place(await gw.user());
      const r = await redrive(o.id);
      expect(r.status).toBe(202);
      expect(r.json).toMatchObject({ stage: 'validator', eventId: o.placedId, eventType: 'order.placed', topic: validatorRetry });
      const [sent] = await sentFor(o.id, 1);
      expect(sent?.topic).toBe(validatorRetry);
      expect(sent?.headers[EventHeaders.eventId]).toBe(o.placedId);
      // What the outbox publisher would send for the same row.
      expect(sent?.value.equals(gw.deps.codec.encode('order.placed', o.placed))).toBe(true);
    },
    KAFKA_MS,
  );

  test(
    'an order changed while pending: its verdict is found around the change when the chain misses',
    async () => {
      const customer = await gw.user();
      const o = await fx.place(customer);
      const changed = await gw.call('PATCH', `/api/v1/orders/${o.id}`, {
        token: customer.accessToken,
        headers: { 'if-match': '"1"' },
        body: { items: [{ sku: 'MUG-BLUE', quantity: 1 }] },
      });
      expect(changed.status).toBe(200);
      const [updated] = await gw.sql<
        { event_id: string }[]
      >`SELECT event_id FROM outbox WHERE aggregate_id = ${o.id} AND event_type = 'order.updated'`;
      const stale = fx.output('order.validated', o, { revision: 1 });
      const current = fx.output('order.validated', o, { revision: 2 });
      await fx.record(ConsumerGroups.validator, o.placedId, 'order.placed', [stale]);
      await fx.record(ConsumerGroups.validator, String(updated?.event_id), 'order.updated', [current]);
      await fx.move(o.id, 'validated', { ageMs: 0, eventId: current.payload.eventId });
      const r = await redrive(o.id);
      expect(r.status).toBe(202);
      expect(r.json.eventId).toBe(current.payload.eventId);
      const [sent] = await sentFor(o.id, 1);
      expect((await gw.deps.codec.decode(sent?.value as Buffer)).payload).toEqual(current.payload);
    },
    KAFKA_MS,
  );

  test('refused: final (409), changed while pending (409), unknown (404)', async () => {
    const customer = await gw.user();
    const shipped = await fx.place(customer);
    await fx.move(shipped.id, 'shipped', { ageMs: 0, eventId: randomUUID() });
    const final = await redrive(shipped.id);
    expect(final.status).toBe(409);
    expect(final.json.code).toBe('PIPELINE_ORDER_FINAL');
    const pending = await fx.place(customer);
    await gw.sql`UPDATE orders SET revision = 2 WHERE id = ${pending.id}`;
    const changed = await redrive(pending.id);
    expect(changed.status).toBe(409);
    expect(changed.json.code).toBe('PIPELINE_REDRIVE_UNRECORDED');
    expect(String(changed.json.detail)).toContain('changed while pending');
    const unknown = await redrive(randomUUID());
    expect(unknown.status).toBe(404);
    for (const id of [shipped.id, pending.id]) expect(await audits(id)).toHaveLength(0);
  });

  test('a re-drive Kafka does not acknowledge is a 503, with nothing audited', async () => {
    const o = await validatedOrder();
    const failing = new PipelineService({
      sql: gw.sql,
      producer: { send: async () => Promise.reject(new Error('broker down')) },
      codec: gw.deps.codec,
      namespace: ns,
      thresholds: gw.env.pipelineThresholds,
    });
    const err = await failing.redrive(actor.userId, o.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).kind).toBe('unavailable');
    expect((err as DomainError).code).toBe('PIPELINE_REDRIVE_UNAVAILABLE');
    expect(await audits(o.id)).toHaveLength(0);
  });
});
