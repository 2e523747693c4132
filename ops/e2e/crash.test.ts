/**
 * The gateway is killed with SIGKILL while orders pour in. After a restart, every order that got a
 * 2xx exists exactly once in PostgreSQL and its `order.placed` event reaches Kafka (the outbox sweep
 * publishes what the dead instance left), and no event exists for an order that does not. Requests
 * whose answer was lost are retried with their Idempotency-Key and create nothing twice.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { EventCodec, namespaced, schemaRegistryFor, Topics } from '@orders/contracts';
import { eventually } from '@orders/platform/testing';
import { Kafka, logLevel } from 'kafkajs';
import { db, devToken, env, gatewayUrl, mode, type Services, start, stop, useNamespace } from './harness';

const sql = db();
const LOAD_CLIENTS = 16;
const KILL_AFTER_MS = 1_500;

beforeAll(async () => {
  await useNamespace('e2ecrash');
}, 60_000);

afterAll(async () => {
  await sql.end();
});

type Attempt = { key: string; token: string; userId: string; status: number | 'lost'; orderId?: string };

async function post(a: Attempt): Promise<Attempt> {
  try {
    const res = await fetch(`${gatewayUrl}/api/v1/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/json', 'idempotency-key': a.key },
      body: JSON.stringify({ items: [{ sku: 'SOCKS-3PACK', quantity: 1 }] }),
      signal: AbortSignal.timeout(5_000),
    });
    const body = (await res.json()) as { id?: string };
    return { ...a, status: res.status, orderId: body.id };
  } catch {
    return { ...a, status: 'lost' };
  }
}

async function placedEvents(userIds: Set<string>): Promise<string[]> {
  const codec = new EventCodec(schemaRegistryFor(env.SCHEMA_REGISTRY_URL || undefined));
  const kafka = new Kafka({ clientId: 'crash-test', brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = namespaced(Topics.orderEvents, mode.namespace);
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `crash-test-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: string[] = [];
  const done = new Map(ends.map((e) => [e.partition, Number(e.high) === 0]));
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const e = await codec.decode(message.value as Buffer);
      if (e.type === 'order.placed' && userIds.has(e.payload.userId)) seen.push(e.payload.orderId);
      const high = Number(ends.find((x) => x.partition === partition)?.high ?? 0);
      if (Number(message.offset) >= high - 1) done.set(partition, true);
    },
  });
  try {
    await eventually(() => [...done.values()].every(Boolean), {
      what: `the consumer to reach the end of ${topic}`,
      timeoutMs: 30_000,
      everyMs: 50,
    });
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

describe('gateway killed with SIGKILL mid-load', () => {
  test('every acknowledged order exists once with its event; no event without its order', async () => {
    let services: Services = await start(['gateway']);
    const users = await Promise.all(Array.from({ length: 8 }, () => devToken()));
    const attempts: Attempt[] = [];
    let killed = false;
    const clients = Array.from({ length: LOAD_CLIENTS }, async (_, c) => {
      for (let i = 0; !killed || i === 0; i++) {
        const u = users[(c + i) % users.length] as { accessToken: string; userId: string };
        attempts.push(await post({ key: randomUUID(), token: u.accessToken, userId: u.userId, status: 'lost' }));
      }
    });
    // A scenario step, not a wait for a condition: the load runs this long before the kill.
    await Bun.sleep(KILL_AFTER_MS);
    const gateway = services.procs.find((p) => p.def.name === 'gateway');
    gateway?.child.kill('SIGKILL');
    killed = true;
    await Promise.all(clients);
    await gateway?.exited;

    const acknowledged = attempts.filter((a) => a.status === 201);
    const lost = attempts.filter((a) => a.status === 'lost');
    expect(acknowledged.length).toBeGreaterThan(50);
    expect(attempts.every((a) => a.status === 201 || a.status === 'lost')).toBe(true);
    process.stdout.write(`  before the kill: ${acknowledged.length} acknowledged, ${lost.length} without an answer\n`);

    services = await start(['gateway']);
    try {
      // Answers lost in the crash: retried with the same key, they replay or create, never duplicate.
      const retried = await Promise.all(lost.map((a) => post(a)));
      for (const r of retried) expect(r.status).toBe(201);
      const ids = [...acknowledged, ...retried].map((a) => a.orderId as string);
      const userIds = new Set(users.map((u) => u.userId));

      const rows = await sql<{ id: string; n: number }[]>`SELECT id, count(*)::int AS n FROM orders WHERE id IN ${sql(ids)} GROUP BY id`;
      expect(rows.length).toBe(new Set(ids).size);
      expect(rows.every((r) => r.n === 1)).toBe(true);
      const [perKey] = await sql<{ keys: number; orders: number }[]>`
        SELECT count(*)::int AS keys, count(DISTINCT resource_id)::int AS orders FROM idempotency_keys WHERE key IN ${sql(attempts.map((a) => a.key))}`;
      expect(perKey).toEqual({ keys: attempts.length, orders: attempts.length });

      // The restarted instance's sweep publishes whatever the dead one left in the outbox.
      await eventually(
        async () => {
          const [left] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox WHERE payload->>'userId' IN ${sql([...userIds])}`;
          return left?.n === 0;
        },
        { what: 'the outbox emptied of these users’ events', timeoutMs: 30_000, everyMs: 100 },
      );
      const events = await placedEvents(userIds);
      const inDb = await sql<{ id: string }[]>`SELECT id FROM orders WHERE user_id IN ${sql([...userIds])}`;
      const dbIds = new Set(inDb.map((r) => r.id));
      const eventIds = new Set(events);
      for (const id of ids) expect(eventIds.has(id)).toBe(true);
      for (const id of eventIds) expect(dbIds.has(id)).toBe(true);
      for (const id of dbIds) expect(eventIds.has(id)).toBe(true);
      process.stdout.write(
        `  after restart: ${dbIds.size} orders, ${eventIds.size} distinct order.placed events (${events.length} with duplicates)\n`,
      );
    } finally {
      expect(await stop(services)).toEqual({ gateway: 0 });
    }
  }, 120_000);
});
