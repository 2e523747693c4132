import { describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { EventHeaders, namespaced, Topics } from '@orders/contracts';
import { eventually } from '@orders/platform/testing';
import { Kafka, logLevel } from 'kafkajs';
import { suiteGateway } from './support';

const gw = suiteGateway();

const mug = { sku: 'MUG-BLUE', quantity: 2 };

async function counts(userId: string) {
  const [row] = await gw.sql<{ orders: number; items: number; history: number; outbox: number }[]>`
    SELECT (SELECT count(*)::int FROM orders WHERE user_id = ${userId}) AS orders,
           (SELECT count(*)::int FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.user_id = ${userId}) AS items,
           (SELECT count(*)::int FROM order_status_history h JOIN orders o ON o.id = h.order_id WHERE o.user_id = ${userId}) AS history,
           (SELECT count(*)::int FROM outbox WHERE payload->>'userId' = ${userId}) AS outbox`;
  return row;
}

describe('POST /api/v1/orders', () => {
  test('prices the order on the server and writes order, lines, history and outbox row together', async () => {
    const u = await gw.user();
    const r = await gw.call('POST', '/api/v1/orders', {
      token: u.accessToken,
      body: { items: [mug, { sku: 'TEE-CLASSIC-M', quantity: 1 }], paymentMethodToken: 'pm_tok_visa_4242' },
    });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      userId: u.userId,
      status: 'pending',
      currency: 'EUR',
      totalCents: 2 * 1299 + 2000,
      version: 1,
      items: [
        { sku: 'MUG-BLUE', quantity: 2, unitPriceCents: 1299, lineTotalCents: 2598 },
        { sku: 'TEE-CLASSIC-M', quantity: 1, unitPriceCents: 2000, lineTotalCents: 2000 },
      ],
    });
    expect(r.headers.get('location')).toBe(`/api/v1/orders/${r.json.id}`);
    expect(r.headers.get('etag')).toBe('"1"');
    expect(await counts(u.userId)).toEqual({ orders: 1, items: 2, history: 1, outbox: 1 });
  });

  test('refuses client-supplied prices, status or owner (no mass assignment)', async () => {
    const u = await gw.user();
    for (const body of [
      { items: [{ ...mug, unitPriceCents: 1 }] },
      { items: [mug], status: 'shipped' },
      { items: [mug], userId: randomUUID() },
      { items: [mug], totalCents: 1 },
    ]) {
      const r = await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body });
      expect(r.status).toBe(400);
      expect(r.json.code).toBe('REQUEST_VALIDATION_FAILED');
    }
    expect(await counts(u.userId)).toEqual({ orders: 0, items: 0, history: 0, outbox: 0 });
  });

  test('lists every invalid field, without echoing values', async () => {
    const u = await gw.user();
    const r = await gw.call('POST', '/api/v1/orders', {
      token: u.accessToken,
      body: { items: [{ sku: 'lower-case', quantity: 0 }], paymentMethodToken: '4111111111111111' },
    });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toStartWith('application/problem+json');
    const fields = (r.json.errors ?? []).map((e) => e.field);
    expect(fields).toContain('/items/0/sku');
    expect(fields).toContain('/items/0/quantity');
    expect(fields).toContain('/paymentMethodToken');
    expect(JSON.stringify(r.json)).not.toContain('4111111111111111');
  });

  test('answers business-rule failures with 422 and a stable code', async () => {
    const u = await gw.user();
    const unknown = await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body: { items: [{ sku: 'NOPE-1', quantity: 1 }] } });
    expect(unknown.status).toBe(422);
    expect(unknown.json).toMatchObject({ code: 'ORDERS_UNKNOWN_SKU', skus: ['NOPE-1'] });
    const dup = await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body: { items: [mug, mug] } });
    expect(dup.status).toBe(422);
    expect(dup.json.code).toBe('ORDERS_DUPLICATE_SKU');
  });

  test('refuses a line asking for more than is in stock with 409 ORDERS_OUT_OF_STOCK, writing nothing', async () => {
    const sku = `SCARCE-${randomUUID().slice(0, 8)}`.toUpperCase();
    await gw.sql`INSERT INTO products (sku, name, price_cents, currency, stock) VALUES (${sku}, 'Scarce', 500, 'EUR', 2)`;
    const u = await gw.user();
    const tooMany = await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body: { items: [mug, { sku, quantity: 3 }] } });
    expect(tooMany.status).toBe(409);
    expect(tooMany.headers.get('content-type')).toStartWith('application/problem+json');
    expect(tooMany.json).toMatchObject({ code: 'ORDERS_OUT_OF_STOCK', skus: [{ sku, requested: 3, inStock: 2 }] });
    expect(String(tooMany.json.detail)).toContain(`${sku} (2 left, 3 asked)`);
    expect(await counts(u.userId)).toEqual({ orders: 0, items: 0, history: 0, outbox: 0 });
    // What is there can be ordered: the inventory stage, not this check, reserves it.
    const ok = await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body: { items: [{ sku, quantity: 2 }] } });
    expect(ok.status).toBe(201);
  });

  test('refuses bodies that are not JSON, too large (also when chunked), or empty', async () => {
    const u = await gw.user();
    const text = await gw.call('POST', '/api/v1/orders', {
      token: u.accessToken,
      raw: 'items=1',
      headers: { 'content-type': 'text/plain' },
    });
    expect([text.status, text.json.code]).toEqual([415, 'REQUEST_UNSUPPORTED_MEDIA_TYPE']);
    const big = JSON.stringify({ items: [mug], pad: 'x'.repeat(gw.env.BODY_LIMIT_BYTES) });
    const large = await gw.call('POST', '/api/v1/orders', {
      token: u.accessToken,
      raw: big,
      headers: { 'content-type': 'application/json' },
    });
    expect([large.status, large.json.code]).toEqual([413, 'REQUEST_BODY_TOO_LARGE']);
    const chunks = new ReadableStream({
      start(c) {
        for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode('x'.repeat(gw.env.BODY_LIMIT_BYTES / 10)));
        c.close();
      },
    });
    const chunked = await gw.call('POST', '/api/v1/orders', {
      token: u.accessToken,
      raw: chunks,
      headers: { 'content-type': 'application/json' },
    });
    expect([chunked.status, chunked.json.code]).toEqual([413, 'REQUEST_BODY_TOO_LARGE']);
    const empty = await gw.call('POST', '/api/v1/orders', {
      token: u.accessToken,
      raw: '',
      headers: { 'content-type': 'application/json' },
    });
    expect([empty.status, empty.json.code]).toEqual([400, 'REQUEST_MALFORMED_BODY']);
    expect(await counts(u.userId)).toEqual({ orders: 0, items: 0, history: 0, outbox: 0 });
  });

  test('writes nothing at all when the transaction fails half-way', async () => {
    const u = await gw.user();
    // Make the last insert of the transaction (the outbox row) fail for this user only.
    const fn = `fail_outbox_${u.userId.replaceAll('-', '')}`;
    await gw.sql.unsafe(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.payload->>'userId' = '${u.userId}' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$`);
    await gw.sql.unsafe(`CREATE TRIGGER ${fn} BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
    try {
      const r = await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body: { items: [mug] } });
      expect(r.status).toBe(500);
      expect(r.json.code).toBe('SERVICE_INTERNAL_ERROR');
      expect(JSON.stringify(r.json)).not.toContain('injected');
      expect(await counts(u.userId)).toEqual({ orders: 0, items: 0, history: 0, outbox: 0 });
    } finally {
      await gw.sql.unsafe(`DROP TRIGGER ${fn} ON outbox; DROP FUNCTION ${fn}()`);
    }
  });

  test('publishes the order.placed event to Kafka, keyed by order id', async () => {
    const u = await gw.user();
    const kafka = new Kafka({ clientId: 'gateway-test', brokers: gw.env.KAFKA_BROKERS, logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `gateway-test-${randomUUID()}` });
    await consumer.connect();
    // From the beginning: a fresh group resolving 'latest' after joining could miss a message sent meanwhile.
    await consumer.subscribe({ topic: namespaced(Topics.orderEvents, gw.env.NAMESPACE), fromBeginning: true });
    const seen: { key: string; value: Buffer; headers: Record<string, unknown> }[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push({ key: String(message.key), value: message.value as Buffer, headers: message.headers ?? {} });
      },
    });
    gw.deps.outbox.start();
    const r = await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body: { items: [mug] } });
    expect(r.status).toBe(201);
    const orderId = String(r.json.id);
    const msg = await eventually(() => seen.find((m) => m.key === orderId), {
      what: 'order.placed on Kafka',
      timeoutMs: 15_000,
    }).finally(() => consumer.disconnect());
    const decoded = await gw.deps.codec.decode(msg.value);
    expect(decoded.type).toBe('order.placed');
    expect(decoded.payload).toMatchObject({ orderId, userId: u.userId, totalCents: 2598, currency: 'EUR' });
    expect(String(msg.headers[EventHeaders.eventId])).toBe(decoded.payload.eventId);
    // Published rows leave the outbox.
    expect((await counts(u.userId))?.outbox).toBe(0);
  }, 30_000);
});

describe('GET /api/v1/orders/:id', () => {
  test('shows the owner their order, hides it from other customers, shows it to admins', async () => {
    const owner = await gw.user();
    const other = await gw.user();
    const admin = await gw.user('admin');
    const created = await gw.call('POST', '/api/v1/orders', { token: owner.accessToken, body: { items: [mug] } });
    const path = `/api/v1/orders/${created.json.id}`;
    // From the database, not the read cache that the create just filled.
    const own = await gw.call('GET', path, { token: owner.accessToken, headers: { 'cache-control': 'no-cache' } });
    expect(own.status).toBe(200);
    expect(own.json).toEqual(created.json);
    expect(own.headers.get('etag')).toBe('"1"');
    const hidden = await gw.call('GET', path, { token: other.accessToken });
    expect([hidden.status, hidden.json.code]).toEqual([404, 'ORDERS_NOT_FOUND']);
    const missing = await gw.call('GET', `/api/v1/orders/${randomUUID()}`, { token: owner.accessToken });
    expect(missing.json).toMatchObject({ status: 404, code: 'ORDERS_NOT_FOUND' });
    expect((await gw.call('GET', path, { token: admin.accessToken })).status).toBe(200);
    const bad = await gw.call('GET', '/api/v1/orders/not-a-uuid', { token: owner.accessToken });
    expect([bad.status, bad.json.code]).toEqual([400, 'REQUEST_VALIDATION_FAILED']);
  });
});
