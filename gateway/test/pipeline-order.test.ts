/**
 * One order in the pipeline view against the real PostgreSQL: its timeline, the event that moved it
 * into its status and whether the waiting stage has processed it (none for a pending order its customer
 * changed, and why), its dead letters, and whether (and why not) it can be re-driven, decided by primary
 * key only: what only the re-drive's search could find is "possible", with a note. Thresholds here: 1 h,
 * payment 10 min.
 */
import { beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { ConsumerGroups } from '@orders/contracts';
import { PipelineService } from '../src/modules/pipeline/service';
import { capturingLogger, hooked, MINUTE, pipelineFixtures } from './pipeline-support';
import { suiteGateway } from './support';

const ns = `plo${randomUUID().slice(0, 8)}`;
const gw = suiteGateway({ NAMESPACE: ns, PIPELINE_STUCK_AFTER_MS: String(60 * MINUTE), PIPELINE_STUCK_THRESHOLDS: 'payment=600000' });
const fx = pipelineFixtures(gw);
let adminToken = '';
const view = (id: string) => gw.call('GET', `/api/v1/admin/pipeline/orders/${id}`, { token: adminToken });

beforeAll(async () => {
  adminToken = (await gw.user('admin')).accessToken;
});

async function deadLetter(orderId: string, stage: string, at: Date) {
  const id = randomUUID();
  await gw.sql`
    INSERT INTO dead_letters (id, namespace, topic, kafka_partition, kafka_offset, stage, consumer_group, order_id, error_code, dead_lettered_at)
    VALUES (${id}, ${ns}, ${`${ns}.orders.${stage}.dlq`}, 0, ${Math.floor(Math.random() * 1e9)}, ${stage}, ${`orders.${stage}`},
            ${orderId}, 'PAYMENT_DECLINED', ${at})`;
  return id;
}

describe('an order in the pipeline view', () => {
  test('validated: timeline, last event (not yet processed by payment), dead letters, re-drive possible', async () => {
    const o = await fx.place(await gw.user());
    const verdict = fx.output('order.validated', o);
    await fx.record(ConsumerGroups.validator, o.placedId, 'order.placed', [verdict]);
    await fx.move(o.id, 'validated', { ageMs: 20 * MINUTE, eventId: verdict.payload.eventId });
    const older = await deadLetter(o.id, 'payment', new Date(Date.now() - 2 * MINUTE));
    const newer = await deadLetter(o.id, 'payment', new Date());
    await deadLetter(randomUUID(), 'payment', new Date()); // another order's

    const r = await view(o.id);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      order: { id: o.id, userId: o.userId, status: 'validated', statusReason: null, version: 2, revision: 1 },
      stage: 'payment',
      thresholdMs: 10 * MINUTE,
      stuck: true,
      lastEvent: { eventId: verdict.payload.eventId, eventType: 'order.validated', processedByNextStage: false },
      lastEventReason: null,
      redrive: { possible: true, eventType: 'order.validated', reason: null, note: null },
    });
    expect(Math.abs(Number(r.json.ageMs) - 20 * MINUTE)).toBeLessThan(MINUTE);
    expect((r.json.timeline as Record<string, unknown>[]).map((t) => [t.fromStatus, t.toStatus, t.version, t.eventId])).toEqual([
      [null, 'pending', 1, o.placedId],
      ['pending', 'validated', 2, verdict.payload.eventId],
    ]);
    const dead = r.json.deadLetters as { id: string; orderId: string; stage: string; errorCode: string }[];
    expect(dead.map((d) => d.id)).toEqual([newer, older]);
    expect(dead[0]).toMatchObject({ orderId: o.id, stage: 'payment', errorCode: 'PAYMENT_DECLINED', replay: null });

    // Payment processed it: the lag is downstream (the projector).
    await fx.record(ConsumerGroups.payment, verdict.payload.eventId, 'order.validated', []);
    expect((await view(o.id)).json.lastEvent).toMatchObject({ processedByNextStage: true });
  });

  test('pending: the last event is order.placed, re-drivable while the order is at its first revision', async () => {
    const customer = await gw.user();
    const o = await fx.place(customer);
    const r = await view(o.id);
    expect(r.json).toMatchObject({
      stage: 'validator',
      thresholdMs: 60 * MINUTE,
      stuck: false,
      lastEvent: { eventId: o.placedId, eventType: 'order.placed', processedByNextStage: false },
      lastEventReason: null,
      redrive: { possible: true, eventType: 'order.placed', reason: null, note: null },
      deadLetters: [],
    });
    // The validator judged order.placed; then the customer changes the order: the validator now waits on
    // that change's order.updated, not on the order.placed it has processed (no "the projector lags").
    await fx.record(ConsumerGroups.validator, o.placedId, 'order.placed', [fx.output('order.validated', o)]);
    await fx.change(customer, o, 3);
    const after = await view(o.id);
    expect(after.json).toMatchObject({ order: { status: 'pending', revision: 2 }, stage: 'validator', lastEvent: null });
    expect(String(after.json.lastEventReason)).toContain('order.updated');
    expect(after.json.redrive).toMatchObject({ possible: false, eventType: 'order.placed', note: null });
    expect(String((after.json.redrive as { reason: string }).reason)).toContain('changed while pending');
  });

  test('changed while pending, then validated: re-drive possible, its event searched for only when re-driving', async () => {
    const customer = await gw.user();
    const o = await fx.place(customer);
    const updatedId = await fx.change(customer, o);
    const verdict = fx.output('order.validated', o, { revision: 2 });
    await fx.record(ConsumerGroups.validator, updatedId, 'order.updated', [verdict]);
    await fx.move(o.id, 'validated', { ageMs: MINUTE, eventId: verdict.payload.eventId });
    const r = await view(o.id);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      stage: 'payment',
      lastEvent: { eventId: verdict.payload.eventId, eventType: 'order.validated' },
      redrive: { possible: true, eventType: 'order.validated', reason: null },
    });
    expect(String((r.json.redrive as { note: string }).note)).toContain('re-drive searches');

    // The diagnosis never runs the search, so a failing one cannot fail it.
    const searches: string[] = [];
    const sql = hooked(gw.sql, /processed_at BETWEEN/, () => {
      searches.push('search');
      return Promise.reject(new Error('search failed'));
    });
    const service = new PipelineService({
      sql,
      producer: { send: async () => [] },
      codec: gw.deps.codec,
      namespace: ns,
      thresholds: gw.env.pipelineThresholds,
      logger: capturingLogger().logger,
    });
    expect((await service.order(o.id)).redrive).toMatchObject({ possible: true, eventType: 'order.validated' });
    expect(searches).toHaveLength(0);
  });

  test('records gone: not re-drivable, and the reason says so', async () => {
    const o = await fx.place(await gw.user());
    await fx.move(o.id, 'validated', { ageMs: MINUTE, eventId: randomUUID() });
    const r = await view(o.id);
    expect(r.json).toMatchObject({
      stage: 'payment',
      stuck: false,
      redrive: { possible: false, eventType: 'order.validated', note: null },
    });
    expect(String((r.json.redrive as { reason: string }).reason)).toContain('no longer recorded');
  });

  test('final: no stage, no threshold, nothing to re-drive', async () => {
    const o = await fx.place(await gw.user());
    const shipped = randomUUID();
    await fx.move(o.id, 'shipped', { ageMs: 3 * 60 * MINUTE, eventId: shipped });
    const r = await view(o.id);
    expect(r.json).toMatchObject({
      order: { status: 'shipped' },
      stage: null,
      thresholdMs: null,
      stuck: false,
      lastEvent: { eventId: shipped, eventType: 'order.shipped', processedByNextStage: false },
      lastEventReason: null,
      redrive: { possible: false, eventType: null, note: null },
    });
    expect(String((r.json.redrive as { reason: string }).reason)).toContain('shipped');
  });

  test('unknown order 404, malformed id 400', async () => {
    const unknown = await view(randomUUID());
    expect(unknown.status).toBe(404);
    expect(unknown.json.code).toBe('PIPELINE_ORDER_NOT_FOUND');
    const bad = await view('not-a-uuid');
    expect(bad.status).toBe(400);
    expect(bad.json.errors?.[0]?.field).toBe('/params/id');
  });
});
