import { describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { lockKey, type OrderDraft } from '../src/modules/orders/write-batch';
import { OrderWriter } from '../src/modules/orders/writer';
import { suiteGateway } from './support';

const gw = suiteGateway();

const body = { items: [{ sku: 'MUG-BLUE', quantity: 2 }] };

async function ordersOf(userId: string) {
  const [r] = await gw.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM orders WHERE user_id = ${userId}`;
  return r?.n;
}

describe('Idempotency-Key on POST /api/v1/orders', () => {
  test('the same key and body replay the first answer; one order exists', async () => {
    const u = await gw.user();
    const key = randomUUID();
    const first = await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(201);
    // Key order does not matter: the body is compared canonically.
    const again = await gw.call('POST', '/api/v1/orders', {
      token: u.accessToken,
      raw: '{ "items" : [ { "quantity": 2, "sku": "MUG-BLUE" } ] }',
      headers: { 'idempotency-key': key, 'content-type': 'application/json' },
    });
    expect(again.status).toBe(201);
    expect(again.json).toEqual(first.json);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(await ordersOf(u.userId)).toBe(1);
  });

  test('the same key with another body is 422 and writes nothing', async () => {
    const u = await gw.user();
    const key = randomUUID();
    await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body, headers: { 'idempotency-key': key } });
    const other = await gw.call('POST', '/api/v1/orders', {
      token: u.accessToken,
      body: { items: [{ sku: 'MUG-BLUE', quantity: 3 }] },
      headers: { 'idempotency-key': key },
    });
    expect([other.status, other.json.code]).toEqual([422, 'IDEMPOTENCY_KEY_MISMATCH']);
    expect(await ordersOf(u.userId)).toBe(1);
  });

  test('a replay answers as the first request did, even after a product of the order was withdrawn', async () => {
    const admin = await gw.user('admin');
    const u = await gw.user();
    const sku = `IDEM-${randomUUID().slice(0, 8).toUpperCase()}`;
    await gw.call('POST', '/api/v1/products', {
      token: admin.accessToken,
      body: { sku, name: 'Soon gone', priceCents: 250, currency: 'EUR', stock: 5 },
    });
    const key = randomUUID();
    const items = { items: [{ sku, quantity: 1 }] };
    const first = await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body: items, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(201);
    await gw.call('PATCH', `/api/v1/products/${sku}`, { token: admin.accessToken, body: { active: false } });
    const again = await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body: items, headers: { 'idempotency-key': key } });
    expect([again.status, again.headers.get('idempotent-replayed')]).toEqual([201, 'true']);
    expect(again.json).toEqual(first.json);
    // A new key for the same body is priced now, and refused.
    const fresh = await gw.call('POST', '/api/v1/orders', {
      token: u.accessToken,
      body: items,
      headers: { 'idempotency-key': randomUUID() },
    });
    expect([fresh.status, fresh.json.code]).toEqual([422, 'ORDERS_UNKNOWN_SKU']);
    expect(await ordersOf(u.userId)).toBe(1);
  });

  test('while the first request with a key is still being written, another one is 409 with Retry-After', async () => {
    const u = await gw.user();
    const key = randomUUID();
    // Hold the key's lock from another session, as an in-flight transaction would.
    const holder = postgres(gw.env.DATABASE_URL, { max: 1 });
    try {
      await holder`SELECT pg_advisory_lock(${lockKey(u.userId, key)}::bigint)`;
      const r = await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body, headers: { 'idempotency-key': key } });
      expect([r.status, r.json.code, r.headers.get('retry-after')]).toEqual([409, 'IDEMPOTENCY_KEY_IN_FLIGHT', '1']);
      expect(await ordersOf(u.userId)).toBe(0);
    } finally {
      await holder.end();
    }
    expect((await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body, headers: { 'idempotency-key': key } })).status).toBe(201);
  });

  test('concurrent retries with one key create exactly one order; everyone gets that order or a 409', async () => {
    const u = await gw.user();
    const key = randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        gw.call('POST', '/api/v1/orders', { token: u.accessToken, body, headers: { 'idempotency-key': key } }),
      ),
    );
    const ok = answers.filter((a) => a.status === 201);
    expect(ok.length).toBeGreaterThan(0);
    expect(new Set(ok.map((a) => a.json.id)).size).toBe(1);
    for (const a of answers) expect([201, 409]).toContain(a.status);
    expect(await ordersOf(u.userId)).toBe(1);
  });

  test('keys belong to their user, are kept at least 24 h, and must be printable ASCII', async () => {
    const a = await gw.user();
    const b = await gw.user();
    const key = randomUUID();
    const ra = await gw.call('POST', '/api/v1/orders', { token: a.accessToken, body, headers: { 'idempotency-key': key } });
    const rb = await gw.call('POST', '/api/v1/orders', { token: b.accessToken, body, headers: { 'idempotency-key': key } });
    expect(rb.status).toBe(201);
    expect(rb.json.id).not.toBe(ra.json.id);
    const [row] = await gw.sql<{ hours: number }[]>`
      SELECT extract(epoch FROM expires_at - created_at) / 3600 AS hours FROM idempotency_keys WHERE user_id = ${a.userId} AND key = ${key}`;
    expect(Number(row?.hours)).toBeGreaterThanOrEqual(24);
    const bad = await gw.call('POST', '/api/v1/orders', { token: a.accessToken, body, headers: { 'idempotency-key': 'has spaces in it' } });
    expect(bad.status).toBe(400);
  });
});

/** A ready-to-write order of one line for `userId`; its event names `eventOrder` (the order itself by default). */
function draftFor(userId: string, id = randomUUID(), eventOrder = id): OrderDraft {
  const now = new Date();
  return {
    order: {
      id,
      user_id: userId,
      status: 'pending',
      currency: 'EUR',
      total_cents: 100,
      payment_method_token: null,
      version: 1,
      revision: 1,
      created_at: now,
      updated_at: now,
    },
    items: [{ order_id: id, line_no: 1, sku: 'MUG-BLUE', quantity: 1, unit_price_cents: 100 }],
    outbox: { event_id: randomUUID(), event_type: 'OrderPlaced', aggregate_id: eventOrder, payload: {}, headers: {} },
    view: {} as never,
    idempotency: null,
  };
}

describe('group commit', () => {
  test('a full write queue refuses at once instead of growing (the API answers 503 ORDERS_BUSY with Retry-After)', async () => {
    const u = await gw.user();
    const writer = new OrderWriter(gw.sql, { maxBatch: 1, concurrency: 1, maxQueued: 1 });
    const draft = () => draftFor(u.userId);
    // One in flight, one queued, the third refused without waiting.
    const outcomes = await Promise.all(
      [draft(), draft(), draft()].map((d) =>
        writer.write(d).then(
          (r) => r.kind,
          (err: Error) => err.name,
        ),
      ),
    );
    expect(outcomes).toEqual(['written', 'written', 'WriterBusy']);
    const { DomainError } = await import('../src/errors');
    const { OrderCommands } = await import('../src/modules/orders/commands');
    // Through the service: a writer that takes nothing more answers every create with the 503.
    const full = new OrderWriter(gw.sql, { maxBatch: 1, concurrency: 1, maxQueued: 0 });
    const commands = new OrderCommands(gw.sql, gw.deps.products, full, gw.deps.outbox, 86_400, gw.deps.orderCache);
    const refused = await commands.create({ userId: u.userId, role: 'customer', tier: 'free' } as never, body).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DomainError);
    expect([
      (refused as InstanceType<typeof DomainError>).code,
      (refused as InstanceType<typeof DomainError>).extra.headers?.['retry-after'],
    ]).toEqual(['ORDERS_BUSY', '1']);
  });

  test('an order whose event would not be written is refused whole, by the statement itself', async () => {
    const u = await gw.user();
    const id = randomUUID();
    // A draft whose event names another order: the statement writes the order but not the event, and
    // must then fail (and undo the order) instead of committing an order nobody will hear about.
    const draft = draftFor(u.userId, id, randomUUID());
    const writer = new OrderWriter(gw.sql, { maxBatch: 10, concurrency: 1 });
    const outcome = await writer.write(draft).then(
      () => 'written',
      (err: Error) => err.message,
    );
    expect(outcome).toContain('batch wrote 1 orders and 0 outbox rows');
    const [n] = await gw.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM orders WHERE id = ${id}`;
    expect(n?.n).toBe(0);
  });

  test('a burst of creates shares transactions, and one bad order fails alone', async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => gw.user()));
    // A valid signature for an account that does not exist: its insert violates the foreign key.
    const { token: ghost } = await gw.deps.sign({ userId: randomUUID(), role: 'customer', tier: 'free' });
    const before = { ...gw.deps.writer.stats };
    const requests = Array.from({ length: 60 }, (_, i) => {
      const token = i === 30 ? ghost : (users[i % users.length]?.accessToken as string);
      return gw.call('POST', '/api/v1/orders', { token, body, headers: { 'idempotency-key': randomUUID() } });
    });
    const answers = await Promise.all(requests);
    expect(answers.filter((a) => a.status === 201).length).toBe(59);
    expect(answers[30]?.json.code).toBe('AUTH_UNKNOWN_USER');
    const written = new Set(answers.filter((a) => a.status === 201).map((a) => a.json.id));
    expect(written.size).toBe(59);
    const batches = gw.deps.writer.stats.batches - before.batches;
    expect(batches).toBeLessThan(59);
    const [n] = await gw.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM orders WHERE id IN ${gw.sql([...written] as string[])}`;
    expect(n?.n).toBe(59);
  });
});
