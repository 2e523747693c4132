/**
 * Webhook endpoint options (#18) through the API on the real PostgreSQL: custom headers (round trip,
 * lower-cased names, sealed at rest, every refused class, the size limits, replace and clear on update,
 * values withheld from admins) and the per-endpoint rate limit's bounds; another user's endpoint stays 404.
 */
import { describe, expect, test } from 'bun:test';
import { suiteGateway } from './support';

const gw = suiteGateway();
// Never called here (no dispatcher in this suite): only its address must pass the SSRF guard.
const url = 'http://127.0.0.1:9/hooks';
const eventTypes = ['order.shipped'];

async function endpoint(token: string, extra: Record<string, unknown> = {}) {
  const r = await gw.call('POST', '/api/v1/webhooks', { token, body: { url, eventTypes, ...extra } });
  expect(r.status).toBe(201);
  return r.json;
}
const patch = (token: string, id: unknown, body: Record<string, unknown>) => gw.call('PATCH', `/api/v1/webhooks/${id}`, { token, body });
const fields = (r: { json: { errors?: { field: string }[] } }) => (r.json.errors ?? []).map((e) => e.field);
const sealedOf = async (id: unknown) =>
  (await gw.sql<{ headers_sealed: string | null }[]>`SELECT headers_sealed FROM webhook_endpoints WHERE id = ${id as string}`)[0]
    ?.headers_sealed;

describe('custom headers', () => {
  test('round-trip with names lower-cased, sealed at rest; an admin sees the names only', async () => {
    const u = await gw.user();
    const ep = await endpoint(u.accessToken, { headers: { 'X-Api-Key': 'k-7f3a9', Authorization: 'Bearer tok en\tx' } });
    const expected = { authorization: 'Bearer tok en\tx', 'x-api-key': 'k-7f3a9' };
    expect(ep.headers).toEqual(expected);
    expect(ep.rateLimitPerSecond).toBeNull();
    expect((await gw.call('GET', `/api/v1/webhooks/${ep.id}`, { token: u.accessToken })).json.headers).toEqual(expected);
    const list = await gw.call('GET', '/api/v1/webhooks', { token: u.accessToken });
    expect((list.json.items as { headers: unknown }[])[0]?.headers).toEqual(expected);
    const sealed = await sealedOf(ep.id);
    expect(sealed).toStartWith('v2:0:');
    expect(sealed).not.toContain('k-7f3a9');
    const admin = await gw.user('admin');
    const asAdmin = await gw.call('GET', `/api/v1/webhooks/${ep.id}`, { token: admin.accessToken });
    expect(asAdmin.json.headers).toEqual({ authorization: null, 'x-api-key': null });
    // Without headers: an empty set, nothing sealed.
    const plain = await endpoint(u.accessToken);
    expect(plain.headers).toEqual({});
    expect(await sealedOf(plain.id)).toBeNull();
  });

  test('every name the dispatcher owns is refused with 422, the field named, in any case', async () => {
    const u = await gw.user();
    const ep = await endpoint(u.accessToken, { headers: { 'x-kept': 'yes' } });
    const refused = [
      'Webhook-Id',
      'webhook-timestamp',
      'WEBHOOK-SIGNATURE',
      'Content-Type',
      'content-length',
      'Host',
      'Connection',
      'Transfer-Encoding',
      'TE',
      'Upgrade',
      'Keep-Alive',
      'Expect',
      'Proxy-Authorization',
      'proxy-anything',
      'Sec-Fetch-Mode',
      'sec-x',
      'traceparent',
      'TraceState',
      'User-Agent',
    ];
    for (const name of refused) {
      const r = await patch(u.accessToken, ep.id, { headers: { 'x-fine': 'ok', [name]: 'v' } });
      expect({ name, status: r.status, code: r.json.code }).toEqual({ name, status: 422, code: 'WEBHOOK_HEADER_REFUSED' });
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(fields(r)).toEqual([`/headers/${name.toLowerCase()}`]);
      expect(JSON.stringify(r.json)).not.toContain('"v"');
    }
    // Several at once: each named. On create too, and nothing is stored.
    const both = await patch(u.accessToken, ep.id, { headers: { host: 'a', 'sec-b': 'b' } });
    expect(fields(both).sort()).toEqual(['/headers/host', '/headers/sec-b']);
    const other = await gw.user();
    const created = await gw.call('POST', '/api/v1/webhooks', {
      token: other.accessToken,
      body: { url, eventTypes, headers: { Host: 'x' } },
    });
    expect(created.status).toBe(422);
    expect(fields(created)).toEqual(['/headers/host']);
    const [n] = await gw.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM webhook_endpoints WHERE user_id = ${other.userId}`;
    expect(n?.n).toBe(0);
    expect((await gw.call('GET', `/api/v1/webhooks/${ep.id}`, { token: u.accessToken })).json.headers).toEqual({ 'x-kept': 'yes' });
  });

  test('names, values, count and total size within their limits', async () => {
    const u = await gw.user();
    const ep = await endpoint(u.accessToken);
    const bad: [Record<string, string>, number, string][] = [
      [{ 'x bad': 'v' }, 400, '/headers'],
      [{ 'x:colon': 'v' }, 400, '/headers'],
      [{ [`x-${'n'.repeat(63)}`]: 'v' }, 400, '/headers'],
      [{ 'x-a': '' }, 400, '/headers/x-a'],
      [{ 'x-a': 'v'.repeat(1025) }, 400, '/headers/x-a'],
      [{ 'x-a': 'line\r\nx-injected: 1' }, 400, '/headers/x-a'],
      [{ 'x-a': 'new\nline' }, 400, '/headers/x-a'],
      [{ 'x-a': 'caf\u00e9' }, 400, '/headers/x-a'],
      [{ 'x-a': ' padded' }, 400, '/headers/x-a'],
      [Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`x-h${i}`, 'v'])), 400, '/headers'],
      [{ 'X-Dup': '1', 'x-dup': '2' }, 422, '/headers/x-dup'],
      [Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`x-h${i}`, 'v'.repeat(1021)])), 422, '/headers'],
    ];
    for (const [headers, status, field] of bad) {
      const r = await patch(u.accessToken, ep.id, { headers });
      const at = Object.keys(headers)[0];
      expect({ at, status: r.status }).toEqual({ at, status });
      expect(fields(r).some((f) => f.startsWith(field))).toBe(true);
      if (status === 422) expect(r.json.code).toBe('WEBHOOK_HEADERS_INVALID');
    }
    // At the limits: 20 headers; 8 KiB of names and values exactly; a 64-character name; a 1024-character value.
    const twenty = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`x-h${i}`, `v${i}`]));
    expect((await patch(u.accessToken, ep.id, { headers: twenty })).json.headers).toEqual(twenty);
    const full = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`x-h${i}`, 'v'.repeat(1020)]));
    expect((await patch(u.accessToken, ep.id, { headers: full })).status).toBe(200);
    const longest = { [`x-${'n'.repeat(62)}`]: 'v'.repeat(1024) };
    expect((await patch(u.accessToken, ep.id, { headers: longest })).json.headers).toEqual(longest);
  });

  test('an update replaces the whole set; {} clears it; leaving it out keeps it', async () => {
    const u = await gw.user();
    const ep = await endpoint(u.accessToken, { headers: { 'x-a': '1', 'x-b': '2' } });
    expect((await patch(u.accessToken, ep.id, { headers: { 'X-C': '3' } })).json.headers).toEqual({ 'x-c': '3' });
    const kept = await patch(u.accessToken, ep.id, { description: 'still there' });
    expect(kept.json).toMatchObject({ description: 'still there', headers: { 'x-c': '3' } });
    expect((await patch(u.accessToken, ep.id, { headers: {} })).json.headers).toEqual({});
    expect(await sealedOf(ep.id)).toBeNull();
  });
});

describe('rate limit per endpoint', () => {
  test('integers 1–1000 or null; anything else 422 with the field named', async () => {
    const u = await gw.user();
    const ep = await endpoint(u.accessToken, { rateLimitPerSecond: 5 });
    expect(ep.rateLimitPerSecond).toBe(5);
    for (const value of [0, 1001, 1.5, -1]) {
      const r = await patch(u.accessToken, ep.id, { rateLimitPerSecond: value });
      expect({ value, status: r.status, code: r.json.code }).toEqual({ value, status: 422, code: 'WEBHOOK_RATE_LIMIT_INVALID' });
      expect(fields(r)).toEqual(['/rateLimitPerSecond']);
    }
    expect((await patch(u.accessToken, ep.id, { rateLimitPerSecond: '5' })).status).toBe(400);
    expect((await gw.call('GET', `/api/v1/webhooks/${ep.id}`, { token: u.accessToken })).json.rateLimitPerSecond).toBe(5);
    for (const value of [1, 1000, null])
      expect((await patch(u.accessToken, ep.id, { rateLimitPerSecond: value })).json.rateLimitPerSecond).toBe(value);
    const other = await gw.user();
    const refused = await gw.call('POST', '/api/v1/webhooks', {
      token: other.accessToken,
      body: { url, eventTypes, rateLimitPerSecond: 0 },
    });
    expect(refused.status).toBe(422);
  });
});

test('another user’s endpoint stays 404 for its options', async () => {
  const owner = await gw.user();
  const other = await gw.user();
  const ep = await endpoint(owner.accessToken, { headers: { 'x-a': '1' }, rateLimitPerSecond: 3 });
  expect((await patch(other.accessToken, ep.id, { headers: { 'x-a': 'mine' } })).status).toBe(404);
  expect((await patch(other.accessToken, ep.id, { rateLimitPerSecond: null })).status).toBe(404);
  expect((await gw.call('GET', `/api/v1/webhooks/${ep.id}`, { token: other.accessToken })).status).toBe(404);
  const read = await gw.call('GET', `/api/v1/webhooks/${ep.id}`, { token: owner.accessToken });
  expect(read.json).toMatchObject({ headers: { 'x-a': '1' }, rateLimitPerSecond: 3 });
});

test('an admin may not change another user’s url or headers (403), other fields as before', async () => {
  const owner = await gw.user();
  const admin = await gw.user('admin');
  const ep = await endpoint(owner.accessToken, { headers: { 'x-a': '1' } });
  for (const body of [{ url: 'http://127.0.0.1:10/elsewhere' }, { headers: {} }, { description: 'x', headers: { 'x-a': '2' } }]) {
    const r = await patch(admin.accessToken, ep.id, body);
    expect({ body, status: r.status, code: r.json.code }).toEqual({ body, status: 403, code: 'AUTH_FORBIDDEN' });
    expect(r.headers.get('content-type')).toContain('application/problem+json');
  }
  expect((await patch(admin.accessToken, ep.id, { description: 'by an admin', rateLimitPerSecond: 2 })).status).toBe(200);
  const read = await gw.call('GET', `/api/v1/webhooks/${ep.id}`, { token: owner.accessToken });
  expect(read.json).toMatchObject({ url, description: 'by an admin', rateLimitPerSecond: 2, headers: { 'x-a': '1' } });
  expect((await patch(owner.accessToken, ep.id, { url: 'http://127.0.0.1:10/moved' })).status).toBe(200);
});

test('headers that cannot be opened read back empty and flagged, never a 500', async () => {
  const owner = await gw.user();
  const admin = await gw.user('admin');
  const ep = await endpoint(owner.accessToken, { headers: { 'x-a': '1' } });
  expect(ep.headersUnreadable).toBeUndefined();
  await gw.sql`UPDATE webhook_endpoints SET headers_sealed = 'v2:0:damaged' WHERE id = ${ep.id as string}`;
  for (const token of [owner.accessToken, admin.accessToken]) {
    const r = await gw.call('GET', `/api/v1/webhooks/${ep.id}`, { token });
    expect({ status: r.status, headers: r.json.headers, unreadable: r.json.headersUnreadable }).toEqual({
      status: 200,
      headers: {},
      unreadable: true,
    });
  }
  expect((await gw.call('GET', '/api/v1/webhooks', { token: owner.accessToken })).status).toBe(200);
  const fixed = await patch(owner.accessToken, ep.id, { headers: { 'x-b': '2' } });
  expect(fixed.json.headers).toEqual({ 'x-b': '2' });
  expect(fixed.json.headersUnreadable).toBeUndefined();
});

test('names that are Object.prototype members are ordinary names', async () => {
  const u = await gw.user();
  const ep = await endpoint(u.accessToken, { headers: { constructor: 'c', 'X-ToString': 't' } });
  expect(ep.headers).toEqual({ constructor: 'c', 'x-tostring': 't' });
});

test('the OpenAPI document describes both options on the request bodies', async () => {
  const doc = (await gw.call('GET', '/openapi.json')).json as {
    paths: Record<
      string,
      Record<string, { requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }>
    >;
  };
  for (const [path, method] of [
    ['/api/v1/webhooks', 'post'],
    ['/api/v1/webhooks/{id}', 'patch'],
  ] as const) {
    const body = doc.paths[path]?.[method]?.requestBody?.content['application/json']?.schema.properties ?? {};
    expect({
      path,
      options: Object.keys(body)
        .filter((k) => k === 'headers' || k === 'rateLimitPerSecond')
        .sort(),
    }).toEqual({
      path,
      options: ['headers', 'rateLimitPerSecond'],
    });
    expect(JSON.stringify(body.headers)).toContain('patternProperties');
  }
});
