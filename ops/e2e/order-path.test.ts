/**
 * One order travels every hop with real parts: HTTP → gateway (Bun/Elysia) → PostgreSQL (order +
 * outbox in one transaction) → Kafka (kafkajs outbox publisher) → workers (node-rdkafka: validator,
 * status projector) → PostgreSQL → Redis feed → ws-edge (Bun WebSocket) → the customer's socket.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { db, devToken, FeedClient, gatewayUrl, type Services, start, stop, useNamespace } from './harness';

let services: Services;
const sql = db();

beforeAll(async () => {
  await useNamespace('e2epath');
  services = await start();
}, 120_000);

afterAll(async () => {
  await sql.end();
});

async function placeOrder(
  token: string,
  body: unknown = { items: [{ sku: 'MUG-BLUE', quantity: 2 }], paymentMethodToken: 'pm_card_visa' },
) {
  return fetch(`${gatewayUrl}/api/v1/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function writes(userId: string) {
  const [row] = await sql<{ orders: number; outbox: number }[]>`
    SELECT (SELECT count(*)::int FROM orders WHERE user_id = ${userId}) AS orders,
           (SELECT count(*)::int FROM outbox WHERE payload->>'userId' = ${userId}) AS outbox`;
  return row;
}

describe('an order, end to end', () => {
  test('posted over HTTP, its status change arrives on the owner’s WebSocket, and only there', async () => {
    const ada = await devToken();
    const bob = await devToken();
    const adaFeed = new FeedClient(ada.accessToken);
    const bobFeed = new FeedClient(bob.accessToken);
    await adaFeed.waitFor((f) => f.type === 'ready');
    await bobFeed.waitFor((f) => f.type === 'ready');

    const posted = performance.now();
    const res = await placeOrder(ada.accessToken);
    expect(res.status).toBe(201);
    const order = (await res.json()) as { id: string; status: string; totalCents: number; version: number };
    expect(res.headers.get('location')).toBe(`/api/v1/orders/${order.id}`);
    expect(order.status).toBe('pending');
    expect(order.totalCents).toBe(2 * 1299);

    const update = await adaFeed.waitFor((f) => f.type === 'order.status' && f.orderId === order.id);
    const firstMs = performance.now() - posted;
    expect(update).toMatchObject({ userId: ada.userId, status: 'validated', previousStatus: 'pending', version: 2 });
    expect(typeof update.seq).toBe('number');
    const shipped = await adaFeed.waitFor((f) => f.type === 'order.status' && f.orderId === order.id && f.status === 'shipped');
    const shippedMs = performance.now() - posted;
    expect(shipped).toMatchObject({ previousStatus: 'reserved', version: 5 });
    const statuses = adaFeed.frames.filter((f) => f.orderId === order.id).map((f) => f.status);
    expect(statuses).toEqual(['validated', 'paid', 'reserved', 'shipped']);
    process.stdout.write(`  POST → first status on the WebSocket: ${firstMs.toFixed(0)} ms; → shipped: ${shippedMs.toFixed(0)} ms\n`);

    const read = await fetch(`${gatewayUrl}/api/v1/orders/${order.id}`, { headers: { authorization: `Bearer ${ada.accessToken}` } });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id: order.id, status: 'shipped', version: 5 });
    const history = await sql`SELECT from_status, to_status FROM order_status_history WHERE order_id = ${order.id} ORDER BY id`;
    expect(history.map((h) => `${h.from_status}→${h.to_status}`)).toEqual([
      'null→pending',
      'pending→validated',
      'validated→paid',
      'paid→reserved',
      'reserved→shipped',
    ]);
    // Shipped: the customer can no longer cancel.
    const late = await fetch(`${gatewayUrl}/api/v1/orders/${order.id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ada.accessToken}` },
    });
    expect(late.status).toBe(409);

    // Ownership: Bob neither reads Ada's order nor receives her updates.
    const peek = await fetch(`${gatewayUrl}/api/v1/orders/${order.id}`, { headers: { authorization: `Bearer ${bob.accessToken}` } });
    expect(peek.status).toBe(404);
    // A window in which nothing may arrive: a frame sent to Bob by mistake would travel with Ada's, all in.
    await Bun.sleep(200);
    expect(bobFeed.frames.filter((f) => f.type === 'order.status')).toEqual([]);
    adaFeed.close();
    bobFeed.close();
  }, 60_000);

  test('bad input gets a clear problem+json answer and writes nothing', async () => {
    const user = await devToken();
    const before = await writes(user.userId);
    const post = (headers: Record<string, string>, body: string) => fetch(`${gatewayUrl}/api/v1/orders`, { method: 'POST', headers, body });
    const json = { 'content-type': 'application/json' };
    const auth = { authorization: `Bearer ${user.accessToken}` };
    const cases: [string, Promise<Response>, number, string][] = [
      ['malformed JSON', post({ ...json, ...auth }, '{"items": [{"sku": "MUG-BLUE", "quantity": 2}'), 400, 'REQUEST_MALFORMED_BODY'],
      ['no token', post(json, JSON.stringify({ items: [{ sku: 'MUG-BLUE', quantity: 1 }] })), 401, 'AUTH_TOKEN_MISSING'],
      [
        'forged token',
        post({ ...json, authorization: `Bearer ${user.accessToken.slice(0, -4)}AAAA` }, '{"items":[]}'),
        401,
        'AUTH_TOKEN_INVALID',
      ],
      [
        'oversized body',
        post({ ...json, ...auth }, JSON.stringify({ items: [{ sku: 'MUG-BLUE', quantity: 1 }], pad: 'x'.repeat(200_000) })),
        413,
        'REQUEST_BODY_TOO_LARGE',
      ],
      [
        'status smuggled in',
        post({ ...json, ...auth }, JSON.stringify({ items: [{ sku: 'MUG-BLUE', quantity: 1 }], status: 'shipped' })),
        400,
        'REQUEST_VALIDATION_FAILED',
      ],
      [
        'unknown product',
        post({ ...json, ...auth }, JSON.stringify({ items: [{ sku: 'NOT-SOLD', quantity: 1 }] })),
        422,
        'ORDERS_UNKNOWN_SKU',
      ],
    ];
    for (const [label, pending, status, code] of cases) {
      const res = await pending;
      expect({ label, status: res.status }).toEqual({ label, status });
      expect(res.headers.get('content-type')).toStartWith('application/problem+json');
      const problem = (await res.json()) as { code: string; title: string; status: number };
      expect({ label, code: problem.code, status: problem.status }).toEqual({ label, code, status });
      expect(problem.title.length).toBeGreaterThan(0);
    }
    expect(await writes(user.userId)).toEqual(before);
  }, 30_000);

  test('every service shuts down cleanly on SIGTERM', async () => {
    const codes = await stop(services);
    expect(codes).toEqual({ gateway: 0, 'ws-edge': 0, 'payment-provider': 0, workers: 0 });
  }, 60_000);
});
