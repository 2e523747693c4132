/**
 * Re-driving an order against real Kafka and PostgreSQL: the exact recorded event (same id, same bytes)
 * goes to the waiting stage's retry topic, due at once with a fresh budget, marked as re-driven, and is
 * audited; twice sends the same event (which the stage de-duplicates); what is final, unrecorded or
 * changed is refused (409) with nothing sent; a send Kafka does not acknowledge is a 503 with nothing
 * audited, an audit row that cannot be written after the send a logged 500; the order, its history and
 * its items are read as one snapshot. Its topics live in a namespace of its own.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { ConsumerGroups, DeadLetterHeaders, EventHeaders, namespaced, RetryHeaders, retryTopic, Topics } from '@orders/contracts';
import { createLogger, createMetrics, type Sql } from '@orders/platform';
import { eventually } from '@orders/platform/testing';
import { type Admin, type Consumer, Kafka, logLevel, type Message, type Producer } from 'kafkajs';
import { createApp } from '../src/app';
import { PipelineService } from '../src/modules/pipeline/service';
import { capturingLogger, hooked, MINUTE, pipelineFixtures } from './pipeline-support';
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
let producer: Producer;
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
  producer = kafka.producer();
  await producer.connect();
  actor = await gw.user('admin');
}, KAFKA_MS);

afterAll(async () => {
  await consumer?.disconnect();
  await producer?.disconnect();
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

/**
 * Everything sent to `topic` so far has been seen: a marker sent now has arrived (the test's topics have
 * one partition, read in order), so whatever is not in `seen` by then was never sent.
 */
async function drained(topic: string) {
  const key = `marker-${randomUUID()}`;
  await producer.send({ topic, acks: -1, messages: [{ key, value: 'marker' }] });
  await eventually(() => seen.some((m) => m.key === key), { what: `the marker on ${topic}`, timeoutMs: 20_000 });
}

/** A pipeline service over `sql` whose producer keeps what it is given (or refuses, with `refuse`). */
function serviceWith(opts: { sql?: Sql; refuse?: boolean; logger?: ReturnType<typeof capturingLogger>['logger'] } = {}) {
  const sent: { topic: string; messages: Message[] }[] = [];
  const service = new PipelineService({
    sql: opts.sql ?? gw.sql,
    producer: {
      send: async (record) => {
        if (opts.refuse) throw new Error('broker down');
        sent.push({ topic: record.topic, messages: record.messages });
        return [];
      },
    },
    codec: gw.deps.codec,
    namespace: ns,
    thresholds: gw.env.pipelineThresholds,
    logger: opts.logger ?? capturingLogger().logger,
  });
  return { service, sent };
}

/** POST …/redrive through the gateway's app with `pipeline` in place of its own. */
async function redriveThrough(pipeline: PipelineService, id: string) {
  const app = createApp({
    env: gw.env,
    deps: gw.deps,
    logger: createLogger({ service: 'gateway-test', level: 'silent' }),
    metrics: createMetrics('gateway', { defaultMetrics: false }),
    isStopping: () => false,
    pipeline,
  });
  const res = await app.handle(
    new Request(`http://localhost/api/v1/admin/pipeline/orders/${id}/redrive`, {
      method: 'POST',
      headers: { authorization: `Bearer ${actor.accessToken}` },
    }),
  );
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

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
      await drained(paymentRetry);
      expect(seen.filter((m) => m.key === o.id)).toHaveLength(2);
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
    'pending without a payment token and with two items: order.placed rebuilt byte for byte',
    async () => {
      const o = await fx.place(await gw.user(), {
        items: [
          { sku: 'MUG-BLUE', quantity: 1 },
          { sku: 'SOCKS-3PACK', quantity: 3 },
        ],
      });
      expect(o.placed.paymentMethodToken).toBeNull();
      expect(o.placed.items).toHaveLength(2);
      const r = await redrive(o.id);
      expect(r.status).toBe(202);
      const [sent] = await sentFor(o.id, 1);
      expect(sent?.topic).toBe(validatorRetry);
      expect(sent?.value.equals(gw.deps.codec.encode('order.placed', o.placed))).toBe(true);
    },
    KAFKA_MS,
  );

  test('order, history and items are one snapshot: an edit committed between the reads is not mixed in', async () => {
    const customer = await gw.user();
    const o = await fx.place(customer);
    let edited = 0;
    // The customer's edit commits right after the order row is read, before its items are.
    const sql = hooked(gw.sql, /FROM orders WHERE id =/, async (run) => {
      const rows = await run();
      if (edited++ === 0) {
        const r = await gw.call('PATCH', `/api/v1/orders/${o.id}`, {
          token: customer.accessToken,
          headers: { 'if-match': '"1"' },
          body: { items: [{ sku: 'CAP-BLACK', quantity: 5 }] },
        });
        expect(r.status).toBe(200);
      }
      return rows;
    });
    const { service, sent } = serviceWith({ sql });
    const result = await service.redrive(actor.userId, o.id);
    expect(edited).toBe(1);
    const [{ revision } = { revision: 0 }] = await gw.sql<{ revision: number }[]>`SELECT revision FROM orders WHERE id = ${o.id}`;
    expect(revision).toBe(2);
    // The order as it was at revision 1, items included: exactly the order.placed the outbox held.
    expect(result).toMatchObject({ stage: 'validator', eventId: o.placedId });
    expect(sent).toHaveLength(1);
    expect((sent[0]?.messages[0]?.value as Buffer).equals(gw.deps.codec.encode('order.placed', o.placed))).toBe(true);
    expect(await audits(o.id)).toHaveLength(1);
  });

  test(
    'an order changed while pending: its verdict is found around the change when the chain misses',
    async () => {
      const customer = await gw.user();
      const o = await fx.place(customer);
      const updatedId = await fx.change(customer, o);
      const stale = fx.output('order.validated', o, { revision: 1 });
      const current = fx.output('order.validated', o, { revision: 2 });
      await fx.record(ConsumerGroups.validator, o.placedId, 'order.placed', [stale]);
      await fx.record(ConsumerGroups.validator, updatedId, 'order.updated', [current]);
      await fx.move(o.id, 'validated', { ageMs: 0, eventId: current.payload.eventId });
      const r = await redrive(o.id);
      expect(r.status).toBe(202);
      expect(r.json.eventId).toBe(current.payload.eventId);
      const [sent] = await sentFor(o.id, 1);
      expect((await gw.deps.codec.decode(sent?.value as Buffer)).payload).toEqual(current.payload);
    },
    KAFKA_MS,
  );

  test(
    'the search looks between the previous change and the projector’s: a projector 10 minutes behind, within the hour cap',
    async () => {
      // Placed 30 min ago, changed, the change validated 20 min ago, the projector applying that 10 min ago.
      const customer = await gw.user();
      const o = await fx.place(customer);
      const updatedId = await fx.change(customer, o);
      await gw.sql`UPDATE order_status_history SET occurred_at = now() - interval '30 minutes' WHERE order_id = ${o.id}`;
      const verdict = fx.output('order.validated', o, { revision: 2 });
      await fx.record(ConsumerGroups.validator, updatedId, 'order.updated', [verdict], new Date(Date.now() - 20 * MINUTE));
      await fx.move(o.id, 'validated', { ageMs: 10 * MINUTE, eventId: verdict.payload.eventId });
      const r = await redrive(o.id);
      expect(r.status).toBe(202);
      expect(r.json.eventId).toBe(verdict.payload.eventId);
      const [sent] = await sentFor(o.id, 1);
      expect((await gw.deps.codec.decode(sent?.value as Buffer)).payload).toEqual(verdict.payload);

      // Bounded: a verdict recorded more than an hour before the projector applied it is not searched for.
      const late = await fx.place(customer);
      const lateUpdatedId = await fx.change(customer, late);
      await gw.sql`UPDATE order_status_history SET occurred_at = now() - interval '3 hours' WHERE order_id = ${late.id}`;
      const lateVerdict = fx.output('order.validated', late, { revision: 2 });
      await fx.record(ConsumerGroups.validator, lateUpdatedId, 'order.updated', [lateVerdict], new Date(Date.now() - 150 * MINUTE));
      await fx.move(late.id, 'validated', { ageMs: 10 * MINUTE, eventId: lateVerdict.payload.eventId });
      const refused = await redrive(late.id);
      expect(refused.status).toBe(409);
      expect(refused.json.code).toBe('PIPELINE_REDRIVE_UNRECORDED');
      await drained(paymentRetry);
      expect(seen.filter((m) => m.key === late.id)).toHaveLength(0);
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

  test('a re-drive Kafka does not acknowledge is a 503 (problem+json, retry-after), with nothing audited', async () => {
    const o = await validatedOrder();
    const r = await redriveThrough(serviceWith({ refuse: true }).service, o.id);
    expect(r.status).toBe(503);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.headers.get('retry-after')).toBe('5');
    expect(r.json).toMatchObject({ status: 503, code: 'PIPELINE_REDRIVE_UNAVAILABLE' });
    expect(await audits(o.id)).toHaveLength(0);
  });

  test('sent but its audit row not written: a 500, logged at error level with actor, order, event and topic', async () => {
    const o = await fx.place(await gw.user());
    const { logger, logged } = capturingLogger();
    const sql = hooked(gw.sql, /INSERT INTO admin_audit/, () => Promise.reject(new Error('audit table unavailable')));
    const { service, sent } = serviceWith({ sql, logger });
    const r = await redriveThrough(service, o.id);
    expect(r.status).toBe(500);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.headers.get('retry-after')).toBeNull();
    expect(String(r.json.detail)).toContain(`was sent to ${validatorRetry}`);
    expect(sent).toHaveLength(1);
    expect(await audits(o.id)).toHaveLength(0);
    const errors = logged.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.args[0]).toMatchObject({
      actorId: actor.userId,
      orderId: o.id,
      eventId: o.placedId,
      eventType: 'order.placed',
      topic: validatorRetry,
    });
    // Never the event itself: order.placed carries the payment token.
    expect(JSON.stringify(errors[0]?.args, (_k, v) => (v instanceof Error ? v.message : v))).not.toContain('pm_tok_');
  });
});
