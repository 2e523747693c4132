/**
 * Webhooks end to end: the gateway's registration API, the workers' dispatcher (fan-out stage and
 * sender) on a fast clock, and real receivers (HTTP servers started here) that verify every signature
 * with `standardwebhooks`, the reference implementation. Retries, Retry-After, 410, the breaker's
 * auto-disable, redelivery, secret rotation, a dispatcher killed mid-schedule, and SSRF refusals.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SecretBox } from '@orders/platform';
import { eventually } from '@orders/platform/testing';
import { db, devToken, env, gatewayUrl, metricSum, mode, type Services, start, stop, useNamespace } from './harness';
import { Receiver } from './webhook-receiver';

/** Delays × 0.00005: 5 min → 15 ms, 10 h → 1.8 s; the whole schedule in ~5 s. */
const FAST = {
  WEBHOOK_TIME_SCALE: '0.00005',
  WEBHOOK_POLL_MS: '100',
  WEBHOOK_BREAKER_FAILURES: '3',
  WEBHOOK_DISABLE_AFTER_FAILURES: '6',
  WEBHOOK_DISABLE_AFTER_MS: '0',
  WEBHOOK_TIMEOUT_MS: '2000',
};
/** How long a delivery (or a whole order's pipeline before it) may take, and how often to look. */
const WAIT = { timeoutMs: 15_000, everyMs: 50 };

let services: Services;
let workers: Services;
const sql = db();
const receivers: Receiver[] = [];

beforeAll(async () => {
  await useNamespace('e2ehooks');
  services = await start(['gateway', 'payment-provider']);
  workers = await start(['workers'], FAST);
}, 120_000);

afterAll(async () => {
  for (const r of receivers) r.stop();
  await Promise.all([stop(services), workers && stop(workers)]);
  await sql.end();
}, 60_000);

function receiver() {
  const r = new Receiver();
  receivers.push(r);
  return r;
}

async function api(token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${gatewayUrl}/api/v1/webhooks${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: res.status === 204 ? null : ((await res.json()) as Record<string, unknown>) };
}

/** A user with one endpoint on a fresh receiver. */
async function endpoint(eventTypes = ['webhook.test'], extra: Record<string, unknown> = {}) {
  const user = await devToken();
  const r = receiver();
  const created = await api(user.accessToken, 'POST', '/', { url: r.url, eventTypes, ...extra });
  expect(created.status).toBe(201);
  r.secrets = [String(created.json?.secret)];
  return { user, r, id: String(created.json?.id), token: user.accessToken };
}

async function message(id: string) {
  const [m] = await sql<{ status: string; attempts: number }[]>`SELECT status, attempts FROM webhook_messages WHERE id = ${id}`;
  return m;
}

describe('webhooks, delivered for real', () => {
  test('an order’s status changes reach a subscribed endpoint, signed, in order, in the request’s trace', async () => {
    const { r, token, user } = await endpoint(['order.validated', 'order.paid', 'order.reserved', 'order.shipped'], { ordered: true });
    const traceId = randomUUID().replaceAll('-', '');
    const placed = await fetch(`${gatewayUrl}/api/v1/orders`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      },
      body: JSON.stringify({ items: [{ sku: 'MUG-BLUE', quantity: 1 }], paymentMethodToken: 'pm_card_visa' }),
    });
    expect(placed.status).toBe(201);
    expect(placed.headers.get('x-trace-id')).toBe(traceId);
    await eventually(() => r.got.length >= 4, { ...WAIT, what: 'four deliveries' });
    // Gateway → outbox → Kafka → every stage → projector → fan-out → delivery: one trace all the way.
    expect(r.got.map((g) => g.traceparent.split('-')[1])).toEqual([traceId, traceId, traceId, traceId]);
    expect(new Set(r.got.map((g) => g.traceparent.split('-')[2])).size).toBe(4);
    expect(r.got.map((g) => g.type)).toEqual(['order.validated', 'order.paid', 'order.reserved', 'order.shipped']);
    expect(r.got.every((g) => g.verified)).toBe(true);
    expect(new Set(r.got.map((g) => g.webhookId)).size).toBe(4);
    // Another user's order reaches nobody here.
    const stranger = await devToken();
    const strangers = await fetch(`${gatewayUrl}/api/v1/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stranger.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ sku: 'MUG-BLUE', quantity: 1 }], paymentMethodToken: 'pm_card_visa' }),
    });
    expect(strangers.status).toBe(201);
    // A window in which nothing may arrive: here a fixed wait is the point, there is no condition to await.
    await Bun.sleep(1_500);
    expect(r.got).toHaveLength(4);
    expect(user.userId).toBeTruthy();
  });

  test('failures are retried on the schedule with the same webhook-id until a 2xx', async () => {
    const { r, id, token } = await endpoint();
    r.answer = (n) => ({ status: n < 2 ? 500 : 200 });
    const q = await api(token, 'POST', `/${id}/test`);
    const messageId = String(q.json?.messageId);
    await eventually(async () => (await message(messageId))?.status === 'succeeded', { ...WAIT, what: 'success' });
    expect(r.got.map((g) => g.answered)).toEqual([500, 500, 200]);
    expect(new Set(r.got.map((g) => g.webhookId)).size).toBe(1);
    const detail = await api(token, 'GET', `/${id}/deliveries/${messageId}`);
    const history = detail.json?.history as { statusCode: number; outcome: string; responseBody: string }[];
    expect(history.map((h) => [h.statusCode, h.outcome])).toEqual([
      [500, 'failed'],
      [500, 'failed'],
      [200, 'succeeded'],
    ]);
    expect(history[0]?.responseBody).toBe('answer 500');
    expect((await api(token, 'GET', `/${id}`)).json?.consecutiveFailures).toBe(0);
  });

  test('429 with Retry-After waits as asked', async () => {
    const { r, id, token } = await endpoint();
    r.answer = (n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 });
    const q = await api(token, 'POST', `/${id}/test`);
    await eventually(async () => (await message(String(q.json?.messageId)))?.status === 'succeeded', { ...WAIT, what: 'success' });
    const [first, second] = r.got;
    // The schedule alone would retry after 0.25 ms here.
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(900);
  });

  test('410 Gone disables the endpoint; its owner sees why, fixes it, resumes, redelivers the failed', async () => {
    const { r, id, token } = await endpoint();
    r.answer = () => ({ status: 410 });
    const since = new Date(Date.now() - 1_000).toISOString();
    const q = await api(token, 'POST', `/${id}/test`);
    const messageId = String(q.json?.messageId);
    await eventually(async () => (await api(token, 'GET', `/${id}`)).json?.status === 'disabled', { ...WAIT, what: 'disabled' });
    expect((await api(token, 'GET', `/${id}`)).json?.disabledReason).toContain('410');
    expect(await message(messageId)).toEqual({ status: 'failed', attempts: 1 });
    r.answer = () => ({ status: 200 });
    expect((await api(token, 'POST', `/${id}/resume`)).json?.status).toBe('active');
    expect((await api(token, 'POST', `/${id}/redeliver`, { since })).json?.count).toBe(1);
    await eventually(async () => (await message(messageId))?.status === 'succeeded', { ...WAIT, what: 'redelivered' });
    expect(r.got.map((g) => g.answered)).toEqual([410, 200]);
    // One message again, by hand: the same webhook-id, so the receiver can tell it is a repeat.
    await api(token, 'POST', `/${id}/deliveries/${messageId}/redeliver`);
    await eventually(() => r.got.length === 3, { ...WAIT, what: 'third delivery' });
    expect(new Set(r.got.map((g) => g.webhookId)).size).toBe(1);
  });

  test('an endpoint that keeps failing is disabled by the breaker, with the reason kept', async () => {
    const { r, id, token } = await endpoint();
    r.answer = () => ({ status: 500 });
    await api(token, 'POST', `/${id}/test`);
    const ep = await eventually(
      async () => {
        const e = (await api(token, 'GET', `/${id}`)).json;
        return e?.status === 'disabled' ? e : undefined;
      },
      { ...WAIT, what: 'auto-disabled' },
    );
    expect(ep.disabledReason).toContain('6 consecutive failed attempts');
    expect(ep.disabledReason).toContain('HTTP 500');
    expect(r.got).toHaveLength(6);
    // Disabled: a new test event is queued but not sent (a window in which nothing may arrive).
    expect((await api(token, 'POST', `/${id}/test`)).status).toBe(202);
    await Bun.sleep(500);
    expect(r.got).toHaveLength(6);
  });

  test('after a rotation both the old and the new secret verify, until the overlap ends', async () => {
    const { r, id, token } = await endpoint();
    const old = r.secrets[0] as string;
    const rotated = await api(token, 'POST', `/${id}/rotate-secret`, { overlapSeconds: 600 });
    const fresh = String(rotated.json?.secret);
    r.secrets = [old, fresh];
    await api(token, 'POST', `/${id}/test`);
    await eventually(() => r.got.length === 1, { ...WAIT, what: 'delivery' });
    expect(r.got[0]?.verified).toBe(true);
    expect(r.got[0]?.signature.split(' ')).toHaveLength(2);
    // Overlap 0: only the new secret signs.
    const again = await api(token, 'POST', `/${id}/rotate-secret`, { overlapSeconds: 0 });
    r.secrets = [String(again.json?.secret)];
    await api(token, 'POST', `/${id}/test`);
    await eventually(() => r.got.length === 2, { ...WAIT, what: 'second delivery' });
    expect(r.got[1]?.verified).toBe(true);
    expect(r.got[1]?.signature.split(' ')).toHaveLength(1);
  });

  test('a dispatcher killed mid-schedule: the message is sent after the restart, once as a success', async () => {
    const { r, id, token } = await endpoint();
    r.answer = (n) => (n === 0 ? { status: 503, headers: { 'retry-after': '3' } } : { status: 200 });
    const q = await api(token, 'POST', `/${id}/test`);
    const messageId = String(q.json?.messageId);
    await eventually(async () => (await message(messageId))?.attempts === 1, { ...WAIT, what: 'first attempt recorded' });
    workers.procs[0]?.child.kill('SIGKILL');
    await workers.procs[0]?.exited;
    workers = await start(['workers'], FAST);
    await eventually(async () => (await message(messageId))?.status === 'succeeded', {
      ...WAIT,
      timeoutMs: 20_000,
      what: 'success after restart',
    });
    expect(r.got.map((g) => g.answered)).toEqual([503, 200]);
    expect(await message(messageId)).toEqual({ status: 'succeeded', attempts: 2 });
  }, 40_000);

  test('SSRF: a URL that resolves inward is refused at registration and again at connect time', async () => {
    const user = await devToken();
    const r = receiver();
    // localhost is not on the allowlist (only 127.0.0.1 as written is): it resolves to loopback.
    const refused = await api(user.accessToken, 'POST', '/', { url: `http://localhost:${r.port}/hooks`, eventTypes: ['webhook.test'] });
    expect(refused.status).toBe(422);
    expect(JSON.stringify(refused.json)).toContain('not a public address');
    // As if the name had changed its answer after registration (DNS rebinding): the dispatcher checks again.
    const box = new SecretBox(readFileSync(env.WEBHOOK_SECRET_KEY_FILE, 'utf8'));
    const epId = randomUUID();
    const msgId = randomUUID();
    await sql`INSERT INTO webhook_endpoints (id, user_id, url, event_types, secret_sealed)
              VALUES (${epId}, ${user.userId}, ${`http://localhost:${r.port}/hooks`}, ${['webhook.test']}, ${box.seal('whsec_AAAA')})`;
    await sql`INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, payload)
              VALUES (${msgId}, ${epId}, ${randomUUID()}, 'webhook.test', ${sql.json({ type: 'webhook.test' })})`;
    await sql`SELECT pg_notify('webhooks', '')`;
    const [attempt] = await eventually(
      async () => {
        const rows = await sql<{ error: string }[]>`SELECT error FROM webhook_attempts WHERE message_id = ${msgId}`;
        return rows.length > 0 ? rows : undefined;
      },
      { ...WAIT, what: 'a refused attempt' },
    );
    expect(attempt?.error).toContain('not a public address');
    expect(r.got).toHaveLength(0);
  });

  test('the dispatcher reports its outcomes as metrics', async () => {
    const text = await fetch(`http://127.0.0.1:${mode.ports.workerMetricsPort}/metrics`).then((res) => res.text());
    const value = (outcome: string) => metricSum(text, 'orders_webhook_attempts_total', `outcome="${outcome}"`);
    expect(value('succeeded')).toBeGreaterThan(0);
    expect(value('failed')).toBeGreaterThan(0);
    expect(text).toContain('orders_webhook_attempt_seconds_bucket');
  });
});
