/**
 * Retention against real PostgreSQL and Kafka: each rule removes the rows it should and keeps the rest.
 * The Kafka side lives in a namespace of its own (its topics made here, its groups' offsets set here), so
 * the stages' committed offsets are whatever each case needs.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { ConsumerGroups, deadLetterTopic, namespaced, retryConsumerGroup, retryTopic, Topics } from '@orders/contracts';
import { createLogger, createMetrics } from '@orders/platform';
import { type Admin, ConfigResourceTypes, Kafka, logLevel, type Producer } from 'kafkajs';
import { Retention } from '../src/retention';
import { suiteGateway } from './support';

const MIN = 60_000;
const gw = suiteGateway();
let admin: Admin;
let producer: Producer;
const ns = `rt${randomUUID().slice(0, 8)}`;
const topic = (name: string) => namespaced(name, ns);

beforeAll(async () => {
  const kafka = new Kafka({ brokers: gw.env.KAFKA_BROKERS, clientId: 'retention-test', logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  await admin.createTopics({
    waitForLeaders: true,
    topics: [Topics.orderEvents, Topics.orderStatus, ...Object.values(ConsumerGroups).map(retryTopic)].map((t) => ({
      topic: topic(t),
      numPartitions: 1,
    })),
  });
  // Two events on the stages' input: one two hours old, one a minute old (producer timestamps).
  await producer.send({
    topic: topic(Topics.orderEvents),
    messages: [
      { value: 'old', timestamp: String(Date.now() - 120 * MIN) },
      { value: 'new', timestamp: String(Date.now() - MIN) },
    ],
  });
});

afterAll(async () => {
  await admin.deleteTopics({ topics: (await admin.listTopics()).filter((t) => t.startsWith(`${ns}.`)) }).catch(() => {});
  await Promise.all([admin.disconnect(), producer.disconnect()]);
});

function retention(overrides: Partial<ConstructorParameters<typeof Retention>[2]> = {}) {
  return new Retention(
    gw.sql,
    async () => admin,
    {
      namespace: ns,
      dedupMinAgeMs: 60 * MIN,
      resendWindowMs: 10 * MIN,
      webhookRetentionMs: 7 * 24 * 60 * MIN,
      deadLetterRetentionMs: 90 * 24 * 60 * MIN,
      batch: 2,
      maxBatches: 1_000,
      ...overrides,
    },
    createLogger({ service: 'retention-test', level: 'silent' }),
    createMetrics('retention-test', { defaultMetrics: false }),
  );
}

/** setOffsets joins the group as a consumer for a moment: about 5 s each. */
const KAFKA_CASE_MS = 60_000;

/** Commits `offset` for a stage's main consumer on its input topic (the group must have no members). */
async function commit(group: string, offset: number) {
  await admin.setOffsets({
    groupId: namespaced(group, ns),
    topic: topic(Topics.orderEvents),
    partitions: [{ partition: 0, offset: String(offset) }],
  });
}

/** Dedup records of one stage, processed `minutesAgo`; their event ids. */
async function records(group: string, minutesAgo: number, n = 3): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomUUID());
  for (const id of ids)
    await gw.sql`
      INSERT INTO processed_events (consumer_group, event_id, event_type, outputs, processed_at)
      VALUES (${group}, ${id}, 'OrderPlaced', '[{"topic":"x"}]', now() - ${minutesAgo} * interval '1 minute')`;
  return ids;
}

async function remaining(ids: string[]): Promise<number> {
  const [r] = await gw.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM processed_events WHERE event_id IN ${gw.sql(ids)}`;
  return r?.n ?? -1;
}

describe('retention of dedup records', () => {
  const upstreamOfPayments = [
    ConsumerGroups.validator,
    ConsumerGroups.payment,
    ConsumerGroups.inventory,
    ConsumerGroups.fulfillment,
    ConsumerGroups.projector,
  ];

  test(
    'while any stage has not committed past the horizon, every record stays (its redelivery could re-emit any event)',
    async () => {
      const old = await records(ConsumerGroups.validator, 180);
      await commit(ConsumerGroups.validator, 1); // the validator itself is past the two-hour-old message
      const report = await retention().run();
      expect(report.waiting).not.toContain(ConsumerGroups.validator);
      expect(report.waiting).toContain(ConsumerGroups.payment);
      expect(report.processedEvents).toBe(0);
      expect(await remaining(old)).toBe(3);
    },
    KAFKA_CASE_MS,
  );

  test(
    'once every stage committed past the horizon, records older than horizon + re-send window go in bounded batches; the rest stay',
    async () => {
      const old = await records(ConsumerGroups.validator, 180, 5);
      const otherStage = await records(ConsumerGroups.inventory, 180);
      // Inside the re-send window (processed 65 min ago, the horizon is 60 min): a copy may still come.
      const inWindow = await records(ConsumerGroups.validator, 65);
      const recent = await records(ConsumerGroups.validator, 5);
      for (const g of upstreamOfPayments) await commit(g, 1); // past the old message, not the recent one
      const report = await retention().run();
      expect(report.waiting).toEqual([]);
      expect(report.processedEvents).toBeGreaterThanOrEqual(8);
      expect(await remaining([...old, ...otherStage])).toBe(0);
      // A redelivered copy of these events is still recognised: their records are there, outputs included.
      const kept = await gw.sql<{ event_id: string; outputs: unknown }[]>`
      SELECT event_id, outputs FROM processed_events WHERE consumer_group = ${ConsumerGroups.validator} AND event_id IN ${gw.sql([...inWindow, ...recent])}`;
      expect(kept.length).toBe(6);
      expect(kept.every((r) => JSON.stringify(r.outputs) === '[{"topic":"x"}]')).toBe(true);
    },
    KAFKA_CASE_MS,
  );

  test(
    'a lagging retry consumer holds the records back until it commits',
    async () => {
      await producer.send({
        topic: topic(retryTopic(ConsumerGroups.fulfillment)),
        messages: [{ value: 'r', timestamp: String(Date.now() - 120 * MIN) }],
      });
      const old = await records(ConsumerGroups.payment, 180);
      expect((await retention().run()).waiting).toEqual([ConsumerGroups.fulfillment]);
      expect(await remaining(old)).toBe(3);
      await admin.setOffsets({
        groupId: namespaced(retryConsumerGroup(ConsumerGroups.fulfillment), ns),
        topic: topic(retryTopic(ConsumerGroups.fulfillment)),
        partitions: [{ partition: 0, offset: '1' }],
      });
      expect((await retention().run()).waiting).toEqual([]);
      expect(await remaining(old)).toBe(0);
    },
    KAFKA_CASE_MS,
  );

  test('an outbox row older than the cut-off, not yet sent, holds the records back (it may still be sent again)', async () => {
    const old = await records(ConsumerGroups.projector, 180);
    const eventId = randomUUID();
    await gw.sql`INSERT INTO outbox (event_id, event_type, aggregate_id, payload, created_at)
      VALUES (${eventId}, 'OrderPlaced', ${randomUUID()}, '{}', now() - interval '3 hours')`;
    try {
      // The relay is not running in this test process: the row stays unsent while retention looks.
      expect((await retention().run()).processedEvents).toBe(0);
      expect(await remaining(old)).toBe(3);
    } finally {
      await gw.sql`DELETE FROM outbox WHERE event_id = ${eventId}`;
    }
    await retention().run();
    expect(await remaining(old)).toBe(0);
  });
});

describe('retention of Kafka messages', () => {
  test('every topic carries its retention explicitly: a week for the event and retry topics, a month for dead letters', async () => {
    const names = [
      Topics.orderEvents,
      Topics.orderStatus,
      ...Object.values(ConsumerGroups).flatMap((g) => [retryTopic(g), deadLetterTopic(g)]),
    ];
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: names.map((n) => ({
        type: ConfigResourceTypes.TOPIC,
        name: namespaced(n, gw.env.NAMESPACE),
        configNames: ['retention.ms'],
      })),
    });
    const byTopic = Object.fromEntries(resources.map((r) => [r.resourceName, r.configEntries[0]]));
    for (const n of names) {
      const entry = byTopic[namespaced(n, gw.env.NAMESPACE)];
      const week = String(7 * 24 * 3600 * 1000);
      expect([n, entry?.configValue, entry?.isDefault]).toEqual([n, n.endsWith('.dlq') ? String(30 * 24 * 3600 * 1000) : week, false]);
    }
  });
});

describe('retention of webhook messages and expired records', () => {
  test('finished webhook messages older than the retention go with their attempts; pending and recent ones stay', async () => {
    const u = await gw.user();
    const endpoint = randomUUID();
    await gw.sql`INSERT INTO webhook_endpoints (id, user_id, url, event_types, secret_sealed)
      VALUES (${endpoint}, ${u.userId}, 'https://example.com/hook', ${['order.status_changed']}, 'x')`;
    const message = async (status: string, daysAgo: number) => {
      const id = randomUUID();
      await gw.sql`INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, payload, status, created_at, updated_at)
        VALUES (${id}, ${endpoint}, ${randomUUID()}, 'order.status_changed', '{}', ${status},
                now() - ${daysAgo} * interval '1 day', now() - ${daysAgo} * interval '1 day')`;
      await gw.sql`INSERT INTO webhook_attempts (message_id, attempt, started_at, duration_ms, outcome)
        VALUES (${id}, 1, now(), 5, ${status === 'succeeded' ? 'succeeded' : 'failed'})`;
      return id;
    };
    const oldDone = await message('succeeded', 9);
    const oldFailed = await message('failed', 9);
    const oldPending = await message('pending', 9);
    const recentDone = await message('succeeded', 1);
    await retention().run();
    const left = await gw.sql<{ id: string }[]>`SELECT id FROM webhook_messages WHERE endpoint_id = ${endpoint}`;
    expect(left.map((r) => r.id).sort()).toEqual([oldPending, recentDone].sort());
    const [attempts] = await gw.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM webhook_attempts WHERE message_id IN ${gw.sql([oldDone, oldFailed])}`;
    expect(attempts?.n).toBe(0);
  });

  test('refresh tokens go a day after they expired; the others stay', async () => {
    const u = await gw.user();
    const insert = async (expiresIn: string) => {
      const id = randomUUID();
      await gw.sql`INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at)
        VALUES (${id}, ${randomUUID()}, ${u.userId}, ${Buffer.from(randomUUID())}, now() + ${expiresIn}::interval)`;
      return id;
    };
    const longGone = await insert('-2 days');
    const justExpired = await insert('-1 hour');
    const live = await insert('30 days');
    await retention().run();
    const left = await gw.sql<{ id: string }[]>`SELECT id FROM refresh_tokens WHERE id IN ${gw.sql([longGone, justExpired, live])}`;
    expect(left.map((r) => r.id).sort()).toEqual([justExpired, live].sort());
  });

  test('expired idempotency records go; live ones stay', async () => {
    const u = await gw.user();
    const insert = async (key: string, expiresIn: string) =>
      gw.sql`INSERT INTO idempotency_keys (user_id, key, request_hash, response_status, response_body, expires_at)
        VALUES (${u.userId}, ${key}, '\\x00', 201, '{}', now() + ${expiresIn}::interval)`;
    await insert('gone', '-1 minute');
    await insert('kept', '1 day');
    await retention().run();
    const keys = await gw.sql<{ key: string }[]>`SELECT key FROM idempotency_keys WHERE user_id = ${u.userId}`;
    expect(keys.map((k) => k.key)).toEqual(['kept']);
  });

  test('indexed dead letters go after their retention, replayed or not, in this namespace only', async () => {
    const insert = async (namespace: string, daysAgo: number, replayed: boolean) => {
      const id = randomUUID();
      const by = replayed ? (await gw.user()).userId : null;
      await gw.sql`
        INSERT INTO dead_letters (id, namespace, topic, kafka_partition, kafka_offset, stage, consumer_group, dead_lettered_at,
                                  replayed_at, replayed_by)
        VALUES (${id}, ${namespace}, ${topic(deadLetterTopic(ConsumerGroups.payment))}, 0, ${Math.floor(Math.random() * 1e12)},
                'payment', ${ConsumerGroups.payment}, now() - ${daysAgo} * interval '1 day',
                ${replayed ? new Date() : null}, ${by})`;
      return id;
    };
    const old = await insert(ns, 91, false);
    const oldReplayed = await insert(ns, 120, true);
    const recent = await insert(ns, 89, false);
    const otherNamespace = await insert(`${ns}x`, 200, false);
    const report = await retention().run();
    expect(report.deadLetters).toBe(2);
    const left = await gw.sql<
      { id: string }[]
    >`SELECT id FROM dead_letters WHERE id IN ${gw.sql([old, oldReplayed, recent, otherNamespace])}`;
    expect(left.map((r) => r.id).sort()).toEqual([recent, otherNamespace].sort());
  });
});
