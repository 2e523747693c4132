/** The webhook registration API on the real PostgreSQL: owner scope, validation, secrets, deliveries. */
import { describe, expect, test } from 'bun:test';
import { suiteGateway } from './support';

const gw = suiteGateway();
// Never called here (no dispatcher in this suite): only its address must pass the SSRF guard.
const receiverUrl = 'http://127.0.0.1:9/hooks';

const create = (token: string, body: Record<string, unknown>) => gw.call('POST', '/api/v1/webhooks', { token, body });
const ORDER_TYPES = ['order.paid', 'order.shipped'];

describe('webhook endpoints', () => {
  test('registration returns the secret once; reads never show it', async () => {
    const u = await gw.user();
    const r = await create(u.accessToken, { url: receiverUrl, eventTypes: ORDER_TYPES, description: 'ERP' });
    expect(r.status).toBe(201);
    expect(r.json.secret).toMatch(/^whsec_/);
    expect(r.headers.get('location')).toBe(`/api/v1/webhooks/${r.json.id}`);
    expect(r.json).toMatchObject({ url: receiverUrl, eventTypes: ORDER_TYPES, status: 'active', ordered: false, userId: u.userId });
    const read = await gw.call('GET', `/api/v1/webhooks/${r.json.id}`, { token: u.accessToken });
    expect(read.status).toBe(200);
    expect(read.json.secret).toBeUndefined();
    const [row] = await gw.sql<{ secret_sealed: string }[]>`SELECT secret_sealed FROM webhook_endpoints WHERE id = ${r.json.id as string}`;
    // Sealed under the key ring's active key, named in the value (the local key file is the ring's key "0").
    expect(row?.secret_sealed).toStartWith('v2:0:');
    expect(row?.secret_sealed).not.toContain(String(r.json.secret).slice(6));
  });

  test('refuses bad input with problem+json, and URLs that reach inward', async () => {
    const u = await gw.user();
    const cases: [Record<string, unknown>, number, string][] = [
      [{ url: receiverUrl, eventTypes: ['order.teleported'] }, 400, 'eventTypes'],
      [{ url: receiverUrl, eventTypes: [] }, 400, 'eventTypes'],
      [{ url: receiverUrl, eventTypes: ORDER_TYPES, secret: 'mine' }, 400, ''],
      [{ url: 'ftp://127.0.0.1/x', eventTypes: ORDER_TYPES }, 422, 'only http(s)'],
      [{ url: 'http://localhost:9/x', eventTypes: ORDER_TYPES }, 422, 'not a public address'],
      [{ url: 'http://10.0.0.8/x', eventTypes: ORDER_TYPES }, 422, 'not a public address'],
      [{ url: 'http://169.254.169.254/latest/meta-data', eventTypes: ORDER_TYPES }, 422, 'not a public address'],
      [{ url: 'http://[::ffff:127.0.0.1]/x', eventTypes: ORDER_TYPES }, 422, 'not a public address'],
      [{ url: 'http://a:b@127.0.0.1/x', eventTypes: ORDER_TYPES }, 422, 'credentials'],
    ];
    for (const [body, status, mention] of cases) {
      const r = await create(u.accessToken, body);
      expect({ body, status: r.status }).toEqual({ body, status });
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(JSON.stringify(r.json)).toContain(mention);
    }
    const [n] = await gw.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM webhook_endpoints WHERE user_id = ${u.userId}`;
    expect(n?.n).toBe(0);
  });

  test('another customer cannot see, change, test or delete an endpoint; an admin can see it', async () => {
    const owner = await gw.user();
    const other = await gw.user();
    const admin = await gw.user('admin');
    const { json: ep } = await create(owner.accessToken, { url: receiverUrl, eventTypes: ORDER_TYPES });
    const id = ep.id as string;
    for (const [method, path, body] of [
      ['GET', `/api/v1/webhooks/${id}`, undefined],
      ['PATCH', `/api/v1/webhooks/${id}`, { description: 'mine now' }],
      ['POST', `/api/v1/webhooks/${id}/test`, undefined],
      ['POST', `/api/v1/webhooks/${id}/rotate-secret`, {}],
      ['GET', `/api/v1/webhooks/${id}/deliveries`, undefined],
      ['DELETE', `/api/v1/webhooks/${id}`, undefined],
    ] as const) {
      const r = await gw.call(method, path, { token: other.accessToken, body });
      expect({ path, method, status: r.status }).toEqual({ path, method, status: 404 });
    }
    const list = await gw.call('GET', '/api/v1/webhooks', { token: other.accessToken });
    expect((list.json.items as { id: string }[]).some((e) => e.id === id)).toBe(false);
    expect((await gw.call('GET', `/api/v1/webhooks/${id}`, { token: admin.accessToken })).status).toBe(200);
    expect((await gw.call('GET', `/api/v1/webhooks/${id}`, { token: owner.accessToken })).json.description).toBe('');
  });

  test('update, pause and resume, rotate, delete', async () => {
    const u = await gw.user();
    const { json: ep } = await create(u.accessToken, { url: receiverUrl, eventTypes: ORDER_TYPES });
    const path = `/api/v1/webhooks/${ep.id}`;
    const patched = await gw.call('PATCH', path, { token: u.accessToken, body: { eventTypes: ['order.shipped'], ordered: true } });
    expect(patched.json).toMatchObject({ eventTypes: ['order.shipped'], ordered: true, url: receiverUrl });
    expect((await gw.call('PATCH', path, { token: u.accessToken, body: { url: 'http://localhost/x' } })).status).toBe(422);
    expect((await gw.call('POST', `${path}/pause`, { token: u.accessToken })).json.status).toBe('paused');
    expect((await gw.call('POST', `${path}/resume`, { token: u.accessToken })).json.status).toBe('active');
    const rotated = await gw.call('POST', `${path}/rotate-secret`, { token: u.accessToken, body: { overlapSeconds: 600 } });
    expect(rotated.status).toBe(200);
    expect(rotated.json.secret).toMatch(/^whsec_/);
    expect(rotated.json.secret).not.toBe(ep.secret);
    const until = Date.parse(String(rotated.json.previousSecretExpiresAt));
    expect(until - Date.now()).toBeGreaterThan(590_000);
    expect((await gw.call('GET', path, { token: u.accessToken })).json.previousSecretExpiresAt).toBe(rotated.json.previousSecretExpiresAt);
    expect((await gw.call('DELETE', path, { token: u.accessToken })).status).toBe(204);
    expect((await gw.call('GET', path, { token: u.accessToken })).status).toBe(404);
  });

  test('a test event is queued as a delivery; redelivery queues it again', async () => {
    const u = await gw.user();
    const { json: ep } = await create(u.accessToken, { url: receiverUrl, eventTypes: ['order.shipped'] });
    const path = `/api/v1/webhooks/${ep.id}`;
    const queued = await gw.call('POST', `${path}/test`, { token: u.accessToken });
    expect(queued.status).toBe(202);
    const list = await gw.call('GET', `${path}/deliveries`, { token: u.accessToken });
    expect(list.json.items).toHaveLength(1);
    const [m] = list.json.items as Record<string, unknown>[];
    expect(m).toMatchObject({ id: queued.json.messageId, eventType: 'webhook.test', status: 'pending', attempts: 0 });
    expect(m?.webhookId).toBe(`msg_${String(queued.json.messageId).replaceAll('-', '')}`);
    const detail = await gw.call('GET', `${path}/deliveries/${queued.json.messageId}`, { token: u.accessToken });
    expect(detail.json).toMatchObject({ payload: { type: 'webhook.test' }, history: [] });
    await gw.sql`UPDATE webhook_messages SET status = 'failed', attempts = 8 WHERE id = ${queued.json.messageId as string}`;
    // Without a status every delivery is listed (an absent optional enum once defaulted to `pending`).
    const listed = async (q: string) =>
      ((await gw.call('GET', `${path}/deliveries${q}`, { token: u.accessToken })).json.items as { status: string }[]).map((d) => d.status);
    expect(await listed('')).toEqual(['failed']);
    expect(await listed('?status=failed')).toEqual(['failed']);
    expect(await listed('?status=pending')).toEqual([]);
    const again = await gw.call('POST', `${path}/redeliver`, {
      token: u.accessToken,
      body: { since: new Date(Date.now() - 60_000).toISOString() },
    });
    expect(again.json.count).toBe(1);
    const after = await gw.call('GET', `${path}/deliveries/${queued.json.messageId}`, { token: u.accessToken });
    expect(after.json).toMatchObject({ status: 'pending', attempts: 0 });
    const missing = await gw.call('POST', `${path}/deliveries/00000000-0000-4000-8000-000000000000/redeliver`, { token: u.accessToken });
    expect(missing.status).toBe(404);
  });

  test('at most 10 registrations per hour per user', async () => {
    const u = await gw.user();
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await create(u.accessToken, { url: receiverUrl, eventTypes: ORDER_TYPES })).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(201));
    expect(statuses[10]).toBe(429);
  });
});
