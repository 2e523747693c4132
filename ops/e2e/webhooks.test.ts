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
import type { Server } from 'bun';
import { Webhook } from 'standardwebhooks';
import { db, devToken, env, gatewayUrl, metricSum, mode, type Services, start, stop, useNamespace } from './harness';

/** Delays × 0.00005: 5 min → 15 ms, 10 h → 1.8 s; the whole schedule in ~5 s. */
const FAST = {
  WEBHOOK_TIME_SCALE: '0.00005',
  WEBHOOK_POLL_MS: '100',
  WEBHOOK_BREAKER_FAILURES: '3',
  WEBHOOK_DISABLE_AFTER_FAILURES: '6',
  WEBHOOK_DISABLE_AFTER_MS: '0',
  WEBHOOK_TIMEOUT_MS: '2000',
};

interface Received {
  webhookId: string;
  type: string;
  at: number;
  signature: string;
  verified: boolean;
  answered: number;
  traceparent: string;
}

/** A receiver on loopback that verifies signatures with the secrets it is told, and answers as scripted. */
class Receiver {
  readonly got: Received[] = [];
  secrets: string[] = [];
  /** Status (and headers) for the n-th request (0-based) of a webhook-id. */
  answer: (n: number) => { status: number; headers?: Record<string, string> } = () => ({ status: 204 });
  private readonly server: Server<undefined>;
  constructor() {
    this.server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: async (req) => {
        const body = await req.text();
        const headers = Object.fromEntries(req.headers);
        const webhookId = headers['webhook-id'] ?? '';
        const verified = this.secrets.length > 0 && this.secrets.every((s) => this.verifies(s, body, headers));
        const n = this.got.filter((g) => g.webhookId === webhookId).length;
        const { status, headers: extra } = this.answer(n);
        this.got.push({
          webhookId,
          type: JSON.parse(body).type,
          at: Date.now(),
          signature: headers['webhook-signature'] ?? '',
          verified,
          answered: status,
          traceparent: headers.traceparent ?? '',
        });
        return new Response(status === 204 ? null : `answer ${status}`, { status, headers: extra });
      },
    });
  }
  verifies(secret: string, body: string, headers: Record<string, string>) {
    try {
      new Webhook(secret).verify(body, headers);
      return true;
    } catch {
      return false;
    }
  }
  get url() {
    return `http://127.0.0.1:${this.server.port}/hooks`;
  }
  get port() {
    return this.server.port as number;
  }
  stop() {
    this.server.stop(true);
  }
}

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

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
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
    await until('four deliveries', () => r.got.length >= 4 || undefined);
    // Gateway → outbox → Kafka → every stage → projector → fan-out → delivery: one trace all the way.
    expect(r.got.map((g) => g.traceparent.split('-')[1])).toEqual([traceId, traceId, traceId, traceId]);
    expect(new Set(r.got.map((g) => g.traceparent.split('-')[2])).size).toBe(4);
    expect(r.got.map((g) => g.type)).toEqual(['order.validated', 'order.paid', 'order.reserved', 'order.shipped']);
    expect(r.got.every((g) => g.verified)).toBe(true);
    expect(new Set(r.got.map((g) => g.webhookId)).size).toBe(4);
    // Another user's order reaches nobody here.
    const stranger = await devToken();
    await fetch(`${gatewayUrl}/api/v1/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stranger.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ sku: 'MUG-BLUE', quantity: 1 }], paymentMethodToken: 'pm_card_visa' }),
    });
    await Bun.sleep(1_500);
    expect(r.got).toHaveLength(4);
    expect(user.userId).toBeTruthy();
  });

  test('failures are retried on the schedule with the same webhook-id until a 2xx', async () => {
    const { r, id, token } = await endpoint();
    r.answer = (n) => ({ status: n < 2 ? 500 : 200 });
    const q = await api(token, 'POST', `/${id}/test`);
    const messageId = String(q.json?.messageId);
    await until('success', async () => (await message(messageId))?.status === 'succeeded' || undefined);
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
    await until('success', async () => (await message(String(q.json?.messageId)))?.status === 'succeeded' || undefined);
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
    await until('disabled', async () => ((await api(token, 'GET', `/${id}`)).json?.status === 'disabled' ? true : undefined));
    expect((await api(token, 'GET', `/${id}`)).json?.disabledReason).toContain('410');
    expect(await message(messageId)).toEqual({ status: 'failed', attempts: 1 });
    r.answer = () => ({ status: 200 });
    expect((await api(token, 'POST', `/${id}/resume`)).json?.status).toBe('active');
    expect((await api(token, 'POST', `/${id}/redeliver`, { since })).json?.count).toBe(1);
    await until('redelivered', async () => (await message(messageId))?.status === 'succeeded' || undefined);
    expect(r.got.map((g) => g.answered)).toEqual([410, 200]);
    // One message again, by hand: the same webhook-id, so the receiver can tell it is a repeat.
    await api(token, 'POST', `/${id}/deliveries/${messageId}/redeliver`);
    await until('third delivery', () => r.got.length === 3 || undefined);
    expect(new Set(r.got.map((g) => g.webhookId)).size).toBe(1);
  });

  test('an endpoint that keeps failing is disabled by the breaker, with the reason kept', async () => {
    const { r, id, token } = await endpoint();
    r.answer = () => ({ status: 500 });
    await api(token, 'POST', `/${id}/test`);
    const ep = await until('auto-disabled', async () => {
      const e = (await api(token, 'GET', `/${id}`)).json;
      return e?.status === 'disabled' ? e : undefined;
    });
    expect(ep.disabledReason).toContain('6 consecutive failed attempts');
    expect(ep.disabledReason).toContain('HTTP 500');
    expect(r.got).toHaveLength(6);
    // Disabled: a new test event is queued but not sent.
    await api(token, 'POST', `/${id}/test`);
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
    await until('delivery', () => r.got.length === 1 || undefined);
    expect(r.got[0]?.verified).toBe(true);
    expect(r.got[0]?.signature.split(' ')).toHaveLength(2);
    // Overlap 0: only the new secret signs.
    const again = await api(token, 'POST', `/${id}/rotate-secret`, { overlapSeconds: 0 });
    r.secrets = [String(again.json?.secret)];
    await api(token, 'POST', `/${id}/test`);
    await until('second delivery', () => r.got.length === 2 || undefined);
    expect(r.got[1]?.verified).toBe(true);
    expect(r.got[1]?.signature.split(' ')).toHaveLength(1);
  });

  test('a dispatcher killed mid-schedule: the message is sent after the restart, once as a success', async () => {
    const { r, id, token } = await endpoint();
    r.answer = (n) => (n === 0 ? { status: 503, headers: { 'retry-after': '3' } } : { status: 200 });
    const q = await api(token, 'POST', `/${id}/test`);
    const messageId = String(q.json?.messageId);
    await until('first attempt recorded', async () => ((await message(messageId))?.attempts === 1 ? true : undefined));
    workers.procs[0]?.child.kill('SIGKILL');
    await workers.procs[0]?.exited;
    workers = await start(['workers'], FAST);
    await until('success after restart', async () => (await message(messageId))?.status === 'succeeded' || undefined, 20_000);
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
    const [attempt] = await until('a refused attempt', async () => {
      const rows = await sql<{ error: string }[]>`SELECT error FROM webhook_attempts WHERE message_id = ${msgId}`;
      return rows.length > 0 ? rows : undefined;
    });
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
