import { describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { suiteGateway } from './support';

const gw = suiteGateway();

const mug = { sku: 'MUG-BLUE', quantity: 1 };

async function place(token: string, items = [mug]) {
  const r = await gw.call('POST', '/api/v1/orders', { token, body: { items } });
  expect(r.status).toBe(201);
  return r.json as { id: string; version: number; status: string };
}

async function outboxTypes(orderId: string) {
  const rows = await gw.sql<{ event_type: string; payload: { revision?: number } }[]>`
    SELECT event_type, payload FROM outbox WHERE aggregate_id = ${orderId} ORDER BY id`;
  return rows;
}

describe('listing your orders', () => {
  test('newest first, page by page with an opaque cursor, filtered by status and time, never another customer’s', async () => {
    const u = await gw.user();
    const other = await gw.user();
    await place(other.accessToken);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await place(u.accessToken)).id);
    ids.reverse();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await gw.call('GET', `/api/v1/orders?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: u.accessToken });
      expect(page.status).toBe(200);
      seen.push(...(page.json.items as { id: string }[]).map((o) => o.id));
      cursor = page.json.nextCursor as string | null;
    } while (cursor);
    expect(seen).toEqual(ids);
    await gw.call('POST', `/api/v1/orders/${ids[1]}/cancel`, { token: u.accessToken, body: {} });
    const cancelled = await gw.call('GET', '/api/v1/orders?status=cancelled', { token: u.accessToken });
    expect((cancelled.json.items as { id: string }[]).map((o) => o.id)).toEqual([ids[1] as string]);
    const both = await gw.call('GET', '/api/v1/orders?status=pending,cancelled&limit=100', { token: u.accessToken });
    expect((both.json.items as unknown[]).length).toBe(5);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect(((await gw.call('GET', `/api/v1/orders?createdFrom=${future}`, { token: u.accessToken })).json.items as unknown[]).length).toBe(
      0,
    );
    expect(((await gw.call('GET', `/api/v1/orders?createdTo=${future}`, { token: u.accessToken })).json.items as unknown[]).length).toBe(5);
    expect((await gw.call('GET', '/api/v1/orders?cursor=bm9wZQ', { token: u.accessToken })).json.code).toBe('ORDERS_BAD_CURSOR');
    expect((await gw.call('GET', '/api/v1/orders?status=lost', { token: u.accessToken })).status).toBe(400);
    expect((await gw.call('GET', '/api/v1/orders?userId=x', { token: u.accessToken })).status).toBe(400);
  });
});

describe('changing a pending order', () => {
  test('needs If-Match (400 without it), refuses a stale version (412 with the current ETag), re-prices and emits order.updated', async () => {
    const u = await gw.user();
    const o = await place(u.accessToken);
    const path = `/api/v1/orders/${o.id}`;
    const body = { items: [{ sku: 'TEE-CLASSIC-M', quantity: 3 }] };
    const missing = await gw.call('PATCH', path, { token: u.accessToken, body });
    expect([missing.status, missing.json.errors?.[0]?.field]).toEqual([400, '/headers/if-match']);
    const stale = await gw.call('PATCH', path, { token: u.accessToken, body, headers: { 'if-match': '"7"' } });
    expect([stale.status, stale.json.code, stale.headers.get('etag')]).toEqual([412, 'ORDERS_VERSION_MISMATCH', '"1"']);
    const ok = await gw.call('PATCH', path, { token: u.accessToken, body, headers: { 'if-match': '"1"' } });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ version: 2, totalCents: 6000, items: [{ sku: 'TEE-CLASSIC-M', quantity: 3, unitPriceCents: 2000 }] });
    expect(ok.headers.get('etag')).toBe('"2"');
    const events = await outboxTypes(o.id);
    expect(events.map((e) => e.event_type)).toContain('order.updated');
    expect(events.find((e) => e.event_type === 'order.updated')?.payload.revision).toBe(2);
    expect(
      (await gw.call('PATCH', path, { token: u.accessToken, body: { status: 'shipped' }, headers: { 'if-match': '"2"' } })).status,
    ).toBe(400);
    const malformed = await gw.call('PATCH', path, { token: u.accessToken, body, headers: { 'if-match': 'seven' } });
    expect([malformed.status, malformed.json.code, malformed.json.errors?.[0]?.field]).toEqual([
      400,
      'REQUEST_VALIDATION_FAILED',
      '/headers/if-match',
    ]);
  });

  test('refuses changes once the order has moved on (409) and hides other customers’ orders (404)', async () => {
    const u = await gw.user();
    const o = await place(u.accessToken);
    await gw.sql`UPDATE orders SET status = 'validated', version = 2 WHERE id = ${o.id}`;
    const late = await gw.call('PATCH', `/api/v1/orders/${o.id}`, {
      token: u.accessToken,
      body: { items: [mug] },
      headers: { 'if-match': '"2"' },
    });
    expect([late.status, late.json.code]).toEqual([409, 'ORDERS_NOT_CHANGEABLE']);
    const stranger = await gw.user();
    const peek = await gw.call('PATCH', `/api/v1/orders/${o.id}`, {
      token: stranger.accessToken,
      body: { items: [mug] },
      headers: { 'if-match': '"2"' },
    });
    expect(peek.status).toBe(404);
  });
});

describe('cancelling', () => {
  test('before shipment: cancelled, history and order.cancelled written together; twice or after shipment: 409', async () => {
    const u = await gw.user();
    const o = await place(u.accessToken);
    const r = await gw.call('POST', `/api/v1/orders/${o.id}/cancel`, { token: u.accessToken, body: { reason: 'found it cheaper' } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'cancelled', statusReason: 'found it cheaper', version: 2 });
    const history = await gw.call('GET', `/api/v1/orders/${o.id}/history`, { token: u.accessToken });
    expect((history.json.entries as { fromStatus: string | null; toStatus: string }[]).map((e) => [e.fromStatus, e.toStatus])).toEqual([
      [null, 'pending'],
      ['pending', 'cancelled'],
    ]);
    const events = await outboxTypes(o.id);
    expect(events.map((e) => e.event_type)).toContain('order.cancelled');
    const again = await gw.call('POST', `/api/v1/orders/${o.id}/cancel`, { token: u.accessToken });
    expect([again.status, again.json.code]).toEqual([409, 'ORDERS_NOT_CANCELLABLE']);

    const shipped = await place(u.accessToken);
    await gw.sql`UPDATE orders SET status = 'shipped' WHERE id = ${shipped.id}`;
    const late = await gw.call('POST', `/api/v1/orders/${shipped.id}/cancel`, { token: u.accessToken });
    expect([late.status, late.json.detail]).toEqual([409, 'The order has shipped.']);
    const stale = await gw.call('POST', `/api/v1/orders/${(await place(u.accessToken)).id}/cancel`, {
      token: u.accessToken,
      headers: { 'if-match': '"5"' },
    });
    expect(stale.status).toBe(412);
  });

  test('history of another customer’s order is 404', async () => {
    const o = await place((await gw.user()).accessToken);
    expect((await gw.call('GET', `/api/v1/orders/${o.id}/history`, { token: (await gw.user()).accessToken })).status).toBe(404);
  });
});

describe('admin routes', () => {
  test('admins list and cancel anyone’s orders; customers get 403 on every admin route', async () => {
    const admin = await gw.user('admin');
    const u = await gw.user();
    const o = await place(u.accessToken);
    const list = await gw.call('GET', `/api/v1/admin/orders?userId=${u.userId}`, { token: admin.accessToken });
    expect((list.json.items as { id: string }[]).map((x) => x.id)).toEqual([o.id]);
    expect((await gw.call('GET', `/api/v1/admin/orders/${o.id}`, { token: admin.accessToken })).status).toBe(200);
    const cancel = await gw.call('POST', `/api/v1/admin/orders/${o.id}/cancel`, { token: admin.accessToken, body: {} });
    expect(cancel.json).toMatchObject({ status: 'cancelled', statusReason: 'cancelled by an administrator' });
    for (const [method, path] of [
      ['GET', '/api/v1/admin/orders'],
      ['GET', `/api/v1/admin/orders/${o.id}`],
      ['POST', `/api/v1/admin/orders/${o.id}/cancel`],
    ] as const) {
      const r = await gw.call(method, path, { token: u.accessToken, body: method === 'POST' ? {} : undefined });
      expect([path, r.status, r.json.code]).toEqual([path, 403, 'AUTH_FORBIDDEN']);
    }
  });
});

describe('OpenAPI', () => {
  test('the document lists every route with its schemas and the bearer scheme; the docs page is served', async () => {
    const r = await gw.app.handle(new Request('http://localhost/openapi.json'));
    expect(r.status).toBe(200);
    const doc = (await r.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { security?: unknown; requestBody?: unknown }>>;
      components: { securitySchemes: object };
    };
    expect(doc.openapi).toStartWith('3.');
    for (const p of [
      '/api/v1/orders',
      '/api/v1/orders/{id}',
      '/api/v1/orders/{id}/cancel',
      '/api/v1/orders/{id}/history',
      '/api/v1/products',
      '/api/v1/products/{sku}',
      '/api/v1/auth/login',
      '/api/v1/auth/refresh',
      '/api/v1/admin/orders',
      '/readyz',
    ]) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
    expect(doc.paths['/api/v1/orders']?.post?.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/api/v1/orders']?.post?.requestBody).toBeDefined();
    const quantity = JSON.stringify(doc.paths['/api/v1/orders']?.post?.requestBody);
    expect(quantity).toContain('"maximum":1000');
    expect(quantity).not.toContain('anyOf');
    expect(doc.components.securitySchemes).toHaveProperty('bearerAuth');
    const docs = await gw.app.handle(new Request('http://localhost/docs'));
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toContain('text/html');
  });
});

describe('random ids', () => {
  test('an order id that does not exist is 404 for every route', async () => {
    const u = await gw.user();
    const id = randomUUID();
    for (const [m, p] of [
      ['GET', `/api/v1/orders/${id}`],
      ['GET', `/api/v1/orders/${id}/history`],
      ['POST', `/api/v1/orders/${id}/cancel`],
    ] as const) {
      expect((await gw.call(m, p, { token: u.accessToken, body: m === 'POST' ? {} : undefined })).status).toBe(404);
    }
  });
});
