/**
 * The pipeline view's reads against the real PostgreSQL: admins only; the overview's counts, ages and
 * stuck counts (exact percentiles on a table of known ages); the stuck list with per-stage thresholds and
 * its cursor; one order's timeline, last event, dead letters and whether it can be re-driven; the gauges.
 * Re-driving (Kafka) is pipeline-redrive.test.ts. Thresholds here: 1 h, payment 10 min.
 */
import { beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { ConfigError, createMetrics, type Logger, type Sql } from '@orders/platform';
import { eventually } from '@orders/platform/testing';
import postgres from 'postgres';
import { loadEnv } from '../src/env';
import { readOverview } from '../src/modules/pipeline/overview';
import { parseStuckThresholds } from '../src/modules/pipeline/stages';
import { PipelineWatch } from '../src/modules/pipeline/watch';
import { MINUTE, pipelineFixtures } from './pipeline-support';
import { suiteGateway } from './support';

const ns = `pl${randomUUID().slice(0, 8)}`;
const gw = suiteGateway({ NAMESPACE: ns, PIPELINE_STUCK_AFTER_MS: String(60 * MINUTE), PIPELINE_STUCK_THRESHOLDS: 'payment=600000' });
const fx = pipelineFixtures(gw);
let adminToken = '';
const api = (path: string) => gw.call('GET', `/api/v1/admin/pipeline${path}`, { token: adminToken });
type Stage = {
  stage: string;
  waitingStatus: string;
  count: number;
  stuck: number;
  thresholdMs: number;
  ageMs: { p50: number; p95: number; p99: number; max: number } | null;
};
const stageOf = (overview: Record<string, unknown>, name: string) => (overview.stages as Stage[]).find((s) => s.stage === name) as Stage;

beforeAll(async () => {
  adminToken = (await gw.user('admin')).accessToken;
});

describe('access', () => {
  test('401 without a token, 403 for a customer, on every route', async () => {
    const customer = await gw.user();
    const id = randomUUID();
    for (const [method, path] of [
      ['GET', ''],
      ['GET', '/stuck'],
      ['GET', `/orders/${id}`],
      ['POST', `/orders/${id}/redrive`],
    ] as const) {
      expect((await gw.call(method, `/api/v1/admin/pipeline${path}`)).status).toBe(401);
      const r = await gw.call(method, `/api/v1/admin/pipeline${path}`, { token: customer.accessToken });
      expect(r.status).toBe(403);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
    }
  });
});

describe('creation history', () => {
  test('the creation row carries the order.placed event id', async () => {
    const o = await fx.place(await gw.user());
    const rows = await gw.sql`SELECT from_status, to_status, version, event_id FROM order_status_history WHERE order_id = ${o.id}`;
    expect([...rows]).toEqual([{ from_status: null, to_status: 'pending', version: 1, event_id: o.placedId }]);
    expect(o.placed.eventId).toBe(o.placedId);
  });
});

describe('overview', () => {
  test('counts orders by status and, per stage, the waiting ones, their ages and the stuck ones', async () => {
    const before = (await api('')).json;
    const customer = await gw.user();
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => fx.place(customer)));
    if (!a || !b || !c || !d) throw new Error('orders not placed');
    await fx.age(a.id, 120 * MINUTE);
    await fx.move(b.id, 'validated', { ageMs: 20 * MINUTE, eventId: randomUUID() });
    await fx.move(c.id, 'validated', { ageMs: MINUTE, eventId: randomUUID() });
    await fx.move(d.id, 'shipped', { ageMs: 0, eventId: randomUUID() });
    // Consoles share one read (service.ts): wait for one generated after the changes, by the database's
    // clock, which generatedAt is read from.
    const [{ now: changedAt } = { now: new Date(Number.NaN) }] = await gw.sql<{ now: Date }[]>`SELECT now() AS now`;
    let r = await api('');
    await eventually(
      async () => {
        r = await api('');
        return r.status === 200 && Date.parse(String(r.json.generatedAt)) >= changedAt.getTime();
      },
      { what: 'an overview read after the changes', timeoutMs: 10_000, everyMs: 250 },
    );
    expect(r.status).toBe(200);
    const after = r.json;
    const count = (o: typeof after, s: string) => (o.statuses as Record<string, number>)[s] ?? Number.NaN;
    const delta = (s: string) => count(after, s) - count(before, s);
    expect(['pending', 'validated', 'paid', 'shipped'].map(delta)).toEqual([1, 2, 0, 1]);
    expect(Math.abs(Date.parse(String(after.generatedAt)) - Date.now())).toBeLessThan(MINUTE);
    const validator = stageOf(after, 'validator');
    expect(validator).toMatchObject({ waitingStatus: 'pending', thresholdMs: 60 * MINUTE, count: stageOf(before, 'validator').count + 1 });
    expect(validator.stuck - stageOf(before, 'validator').stuck).toBe(1);
    expect(validator.ageMs?.max).toBeGreaterThanOrEqual(120 * MINUTE);
    expect(validator.ageMs?.max).toBeLessThan(125 * MINUTE);
    const payment = stageOf(after, 'payment');
    expect(payment).toMatchObject({ waitingStatus: 'validated', thresholdMs: 10 * MINUTE });
    expect(payment.stuck - stageOf(before, 'payment').stuck).toBe(1);
    expect((after.stages as Stage[]).map((s) => s.stage)).toEqual(['validator', 'payment', 'inventory', 'fulfillment']);
  });

  test('percentiles and stuck counts are exact on known ages', async () => {
    // A temporary `orders` shadows the real one for this session only: ages the case fully controls.
    const sql = postgres(gw.env.DATABASE_URL, { max: 1, prepare: false, onnotice: () => {} });
    try {
      const overview = await sql.begin(async (tx) => {
        await tx`CREATE TEMP TABLE orders (LIKE public.orders INCLUDING DEFAULTS) ON COMMIT DROP`;
        const rows = [10, 20, 30, 40, 100].map((s) => ({ status: 'validated', s })).concat([{ status: 'shipped', s: 5 }]);
        for (const r of rows)
          await tx`INSERT INTO orders (id, user_id, status, currency, total_cents, updated_at)
                   VALUES (${randomUUID()}, ${randomUUID()}, ${r.status}, 'EUR', 1, now() - ${r.s} * interval '1 second')`;
        return readOverview(tx as unknown as Sql, parseStuckThresholds(60 * MINUTE, 'payment=35000', []));
      });
      expect(overview.statuses).toEqual({
        pending: 0,
        validated: 5,
        paid: 0,
        reserved: 0,
        shipped: 1,
        cancelled: 0,
        rejected: 0,
        failed: 0,
      });
      // percentile_cont over 10, 20, 30, 40, 100 s: 30, 40 + 0.8 × 60, 40 + 0.96 × 60.
      expect(stageOf(overview, 'payment')).toEqual({
        stage: 'payment',
        waitingStatus: 'validated',
        count: 5,
        ageMs: { p50: 30_000, p95: 88_000, p99: 97_600, max: 100_000 },
        thresholdMs: 35_000,
        stuck: 2,
      });
      expect(stageOf(overview, 'validator')).toMatchObject({ count: 0, ageMs: null, stuck: 0, thresholdMs: 60 * MINUTE });
    } finally {
      await sql.end();
    }
  });
});

describe('stuck list', () => {
  test('only orders past their stage’s threshold, oldest first, page by page', async () => {
    const customer = await gw.user();
    const stuckPending = await fx.place(customer);
    await fx.age(stuckPending.id, 120 * MINUTE);
    const ages = [50, 40, 30, 20, 5];
    const orders = await Promise.all(ages.map(() => fx.place(customer)));
    for (const [n, o] of orders.entries()) await fx.move(o.id, 'validated', { ageMs: (ages[n] ?? 0) * MINUTE, eventId: randomUUID() });
    const mine = new Set(orders.map((o) => o.id));
    const seen: { orderId: string; ageMs: number; stage: string; status: string; thresholdMs: number; userId: string }[] = [];
    let cursor: string | null = null;
    do {
      const r = await api(`/stuck?stage=payment&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      expect((r.json.items as unknown[]).length).toBeLessThanOrEqual(2);
      seen.push(...(r.json.items as typeof seen));
      cursor = r.json.nextCursor as string | null;
    } while (cursor);
    expect(new Set(seen.map((s) => s.orderId)).size).toBe(seen.length);
    const found = seen.filter((s) => mine.has(s.orderId));
    // 5 minutes is under payment's 10: not stuck.
    expect(found.map((s) => s.orderId)).toEqual(orders.slice(0, 4).map((o) => o.id));
    for (const [n, s] of found.entries()) {
      expect(s).toMatchObject({ stage: 'payment', status: 'validated', thresholdMs: 10 * MINUTE, userId: customer.userId });
      expect(Math.abs(s.ageMs - (ages[n] ?? 0) * MINUTE)).toBeLessThan(MINUTE);
    }
    for (const s of seen) expect(s.ageMs).toBeGreaterThan(10 * MINUTE);
    const validator = (await api('/stuck?stage=validator&limit=200')).json.items as typeof seen;
    expect(validator.length).toBeGreaterThan(0);
    expect(validator.map((s) => s.orderId)).toContain(stuckPending.id);
    expect(validator.every((s) => s.stage === 'validator' && s.status === 'pending')).toBe(true);
  });

  test('all stages at once, each with its own threshold, oldest first', async () => {
    const customer = await gw.user();
    const [pendingOld, pendingYoung, validated] = await Promise.all([1, 2, 3].map(() => fx.place(customer)));
    if (!pendingOld || !pendingYoung || !validated) throw new Error('orders not placed');
    await fx.age(pendingOld.id, 24 * 60 * MINUTE);
    await fx.age(pendingYoung.id, 30 * MINUTE); // under the validator's hour
    await fx.move(validated.id, 'validated', { ageMs: 23 * 60 * MINUTE, eventId: randomUUID() });
    const items = (await api('/stuck?limit=200')).json.items as { orderId: string; stage: string; thresholdMs: number }[];
    const ids = items.map((i) => i.orderId);
    expect(ids.indexOf(pendingOld.id)).toBeGreaterThanOrEqual(0);
    expect(ids.indexOf(pendingOld.id)).toBeLessThan(ids.indexOf(validated.id));
    expect(ids).not.toContain(pendingYoung.id);
    expect(items.find((i) => i.orderId === pendingOld.id)).toMatchObject({ stage: 'validator', thresholdMs: 60 * MINUTE });
  });

  test('a bad cursor, stage or limit is a 400', async () => {
    const cursor = await api('/stuck?cursor=bm90LWEtY3Vyc29y');
    expect(cursor.status).toBe(400);
    expect(cursor.json.code).toBe('PIPELINE_BAD_CURSOR');
    expect((await api('/stuck?stage=projector')).status).toBe(400);
    expect((await api('/stuck?limit=0')).status).toBe(400);
    expect((await api('/stuck?limit=201')).status).toBe(400);
  });
});

describe('configuration', () => {
  test('a bad threshold override or a too short watch interval stops the start', () => {
    const base = { ...process.env, DEPLOY_STAGE: 'test' };
    expect(loadEnv({ ...base, PIPELINE_STUCK_THRESHOLDS: 'payment=120000' }).pipelineThresholds).toMatchObject({ payment: 120_000 });
    expect(() => loadEnv({ ...base, PIPELINE_STUCK_THRESHOLDS: 'shipping=1000' })).toThrow(/unknown stage "shipping"/);
    expect(() => loadEnv({ ...base, PIPELINE_STUCK_THRESHOLDS: 'payment=soon' })).toThrow(ConfigError);
    expect(() => loadEnv({ ...base, PIPELINE_WATCH_INTERVAL_MS: '500' })).toThrow(/PIPELINE_WATCH_INTERVAL_MS/);
    expect(loadEnv({ ...base, PIPELINE_WATCH_INTERVAL_MS: '0' }).PIPELINE_WATCH_INTERVAL_MS).toBe(0);
  });
});

describe('gauges', () => {
  test('a refresh sets orders_stuck, the oldest age per stage and the last success; a failed one is logged, not thrown', async () => {
    // Its own stuck orders: one on payment (20 min, over its 10), one pending for 25 h.
    const customer = await gw.user();
    const [onPayment, pending] = await Promise.all([fx.place(customer), fx.place(customer)]);
    if (!onPayment || !pending) throw new Error('orders not placed');
    await fx.move(onPayment.id, 'validated', { ageMs: 20 * MINUTE, eventId: randomUUID() });
    await fx.age(pending.id, 25 * 60 * MINUTE);
    const metrics = createMetrics('pipeline-test', { defaultMetrics: false });
    const warnings: unknown[] = [];
    const logger = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as Logger;
    const read = () => readOverview(gw.sql, gw.env.pipelineThresholds);
    const render = async (m: typeof metrics) => (await m.render()).body;
    const value = (text: string, name: string, stage?: string) =>
      Number(
        (stage
          ? new RegExp(`^${name}\\{[^}]*stage="${stage}"[^}]*\\} (\\S+)$`, 'm')
          : new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm')
        ).exec(text)?.[1],
      );
    const LAST = 'orders_pipeline_watch_last_success_timestamp_seconds';
    const watch = new PipelineWatch(read, metrics, logger);
    // No watch has run: no last success at all (not a 0 that reads as "never").
    expect(value(await render(metrics), LAST)).toBeNaN();
    const before = Date.now() / 1000;
    await watch.refresh();
    const overview = await read();
    const text = await render(metrics);
    expect(value(text, 'orders_stuck', 'payment')).toBe(stageOf(overview, 'payment').stuck);
    expect(value(text, 'orders_stuck', 'payment')).toBeGreaterThan(0);
    expect(value(text, 'orders_stage_oldest_age_seconds', 'validator')).toBeGreaterThanOrEqual(25 * 3600);
    expect(value(text, LAST)).toBeGreaterThanOrEqual(before - 1);
    expect(value(text, LAST)).toBeLessThanOrEqual(Date.now() / 1000 + 1);
    expect(warnings).toHaveLength(0);

    const failingMetrics = createMetrics('pipeline-test-2', { defaultMetrics: false });
    const failing = new PipelineWatch(() => Promise.reject(new Error('db down')), failingMetrics, logger);
    await failing.refresh();
    expect(warnings).toHaveLength(1);
    expect(value(await render(failingMetrics), LAST)).toBeNaN();
    // Started, a watch that never succeeds reports its start, so it goes stale (PipelineWatchStale).
    const startedAt = Date.now() / 1000;
    await failing.start(60_000)();
    expect(warnings).toHaveLength(2);
    expect(value(await render(failingMetrics), LAST)).toBeGreaterThanOrEqual(startedAt - 1);
    expect(value(await render(failingMetrics), 'orders_stuck', 'payment')).toBeNaN();
  });
});
