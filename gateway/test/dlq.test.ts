/**
 * The dead-letter index against real Kafka and PostgreSQL: messages dead-lettered as the workers' router
 * writes them are indexed (once, however often they are read), listed and decoded through the admin
 * API, and replayed to their stage's retry topic exactly once. Its topics live in a namespace of its own.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import {
  ConsumerGroups,
  DeadLetterHeaders,
  deadLetterTopic,
  EventHeaders,
  namespaced,
  RetryHeaders,
  retryTopic,
  Topics,
} from '@orders/contracts';
import { samplePayloads } from '@orders/contracts/testing/samples';
import { createLogger, createMetrics } from '@orders/platform';
import { eventually } from '@orders/platform/testing';
import { type Admin, type IHeaders, Kafka, logLevel, type Producer } from 'kafkajs';
import { DeadLetterIndexer } from '../src/dlq/indexer';
import { DLQ_INDEXER_GROUP } from '../src/dlq/topics';
import { DomainError } from '../src/errors';
import { DeadLetters } from '../src/modules/dlq/service';
import { suiteGateway } from './support';

const ns = `dlq${randomUUID().slice(0, 8)}`;
const gw = suiteGateway({ NAMESPACE: ns });
const topic = (name: string) => namespaced(name, ns);
const KAFKA_MS = 60_000;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let indexer: DeadLetterIndexer;
let adminToken: string;

function startIndexer() {
  const i = new DeadLetterIndexer({
    sql: gw.sql,
    brokers: gw.env.KAFKA_BROKERS,
    clientId: 'dlq-test',
    namespace: ns,
    logger: createLogger({ service: 'dlq-test', level: 'silent' }),
    metrics: createMetrics('dlq-test', { defaultMetrics: false }),
  });
  i.start();
  return i;
}

beforeAll(async () => {
  kafka = new Kafka({ brokers: gw.env.KAFKA_BROKERS, clientId: 'dlq-test', logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  const groups = Object.values(ConsumerGroups);
  await admin.createTopics({
    waitForLeaders: true,
    topics: [Topics.orderEvents, ...groups.map(retryTopic), ...groups.map(deadLetterTopic)].map((t) => ({
      topic: topic(t),
      numPartitions: 1,
    })),
  });
  indexer = startIndexer();
  adminToken = (await gw.user('admin')).accessToken;
}, KAFKA_MS);

afterAll(async () => {
  await indexer?.stop();
  await admin.deleteTopics({ topics: (await admin.listTopics()).filter((t) => t.startsWith(`${ns}.`)) }).catch(() => {});
  await Promise.all([admin.disconnect(), producer.disconnect()]);
}, KAFKA_MS);

/** What the workers' router writes to a stage's dead-letter topic. */
async function deadLetter(group: (typeof ConsumerGroups)[keyof typeof ConsumerGroups], orderId: string, value: Buffer) {
  const eventId = randomUUID();
  const headers: IHeaders = {
    [EventHeaders.eventId]: eventId,
    [EventHeaders.eventType]: 'order.placed',
    [EventHeaders.traceparent]: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    [DeadLetterHeaders.errorCode]: 'PAYMENT_DECLINED',
    [DeadLetterHeaders.errorReason]: 'card declined',
    [DeadLetterHeaders.stage]: group.replace('orders.', ''),
    [DeadLetterHeaders.attempts]: '4',
    [DeadLetterHeaders.originalTopic]: topic(Topics.orderEvents),
    [DeadLetterHeaders.originalPartition]: '0',
    [DeadLetterHeaders.originalOffset]: '42',
  };
  await producer.send({ topic: topic(deadLetterTopic(group)), acks: -1, messages: [{ key: orderId, value, headers }] });
  return eventId;
}

const api = (path: string, opts: { token?: string; method?: string } = {}) =>
  gw.call(opts.method ?? 'GET', `/api/v1/admin/dlq${path}`, { token: opts.token ?? adminToken });

async function indexedCount(): Promise<number> {
  const [r] = await gw.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM dead_letters WHERE namespace = ${ns}`;
  return r?.n ?? 0;
}

async function highWatermark(name: string): Promise<string> {
  const [p] = await admin.fetchTopicOffsets(topic(name));
  return p?.high ?? '0';
}

const paymentOrder = randomUUID();
const validatorOrder = randomUUID();
const placed = () => gw.deps.codec.encode('order.placed', { ...samplePayloads['order.placed'], orderId: paymentOrder });
let paymentId = '';
let validatorId = '';

describe('dead-letter index', () => {
  test(
    'indexes what the stages dead-letter, lists it newest first with filters, and decodes it',
    async () => {
      const eventId = await deadLetter(ConsumerGroups.payment, paymentOrder, placed());
      await deadLetter(ConsumerGroups.validator, validatorOrder, Buffer.from('not avro at all'));
      const all = await eventually(
        async () => {
          const r = await api('');
          return (r.json.items as unknown[]).length === 2 && r;
        },
        { what: 'both dead letters indexed', timeoutMs: 30_000 },
      );
      expect(all.status).toBe(200);
      const items = all.json.items as Record<string, unknown>[];
      expect(items.map((i) => i.stage)).toEqual(['validator', 'payment']);
      expect(items[1]).toMatchObject({
        consumerGroup: ConsumerGroups.payment,
        topic: topic(deadLetterTopic(ConsumerGroups.payment)),
        partition: 0,
        offset: '0',
        eventId,
        eventType: 'order.placed',
        orderId: paymentOrder,
        errorCode: 'PAYMENT_DECLINED',
        errorReason: 'card declined',
        attempts: 4,
        originalTopic: topic(Topics.orderEvents),
        originalPartition: 0,
        originalOffset: '42',
        replay: null,
      });
      expect(items[1]).not.toHaveProperty('payload');
      paymentId = String(items[1]?.id);
      validatorId = String(items[0]?.id);

      const byStage = await api('?stage=payment');
      expect((byStage.json.items as { id: string }[]).map((i) => i.id)).toEqual([paymentId]);
      const byOrder = await api(`?orderId=${validatorOrder}`);
      expect((byOrder.json.items as { id: string }[]).map((i) => i.id)).toEqual([validatorId]);
      const first = await api('?limit=1');
      expect((first.json.items as { id: string }[]).map((i) => i.id)).toEqual([validatorId]);
      const second = await api(`?limit=1&cursor=${first.json.nextCursor}`);
      expect((second.json.items as { id: string }[]).map((i) => i.id)).toEqual([paymentId]);
      expect(second.json.nextCursor).toBeNull();

      const shown = await api(`/${paymentId}`);
      expect(shown.status).toBe(200);
      expect(shown.json.headers).toMatchObject({ [EventHeaders.eventId]: eventId, [DeadLetterHeaders.stage]: 'payment' });
      expect(shown.json.payload).toMatchObject({ decoded: true, type: 'order.placed', event: { orderId: paymentOrder } });
      const raw = await api(`/${validatorId}`);
      expect(raw.json.payload).toMatchObject({ decoded: false, base64: Buffer.from('not avro at all').toString('base64') });
      expect(String((raw.json.payload as { error: string }).error)).toContain('magic byte');
    },
    KAFKA_MS,
  );

  test(
    'replays once to the stage’s retry topic with a fresh budget; a second replay sends nothing',
    async () => {
      const retry = retryTopic(ConsumerGroups.payment);
      const before = Date.now();
      const r = await api(`/${paymentId}/replay`, { method: 'POST' });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ id: paymentId, alreadyReplayed: false, retryTopic: topic(retry) });
      expect(await highWatermark(retry)).toBe('1');

      const consumer = kafka.consumer({ groupId: `dlq-test-${randomUUID()}` });
      await consumer.connect();
      await consumer.subscribe({ topic: topic(retry), fromBeginning: true });
      const seen: { key: string; value: Buffer; headers: Record<string, string> }[] = [];
      await consumer.run({
        eachMessage: async ({ message }) => {
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          seen.push({ key: String(message.key), value: message.value as Buffer, headers });
        },
      });
      const sent = await eventually(() => seen[0], { what: 'the replay on the retry topic', timeoutMs: 20_000 }).finally(() =>
        consumer.disconnect(),
      );
      expect(sent.key).toBe(paymentOrder);
      expect(sent.value.equals(placed())).toBe(true);
      expect(sent.headers[RetryHeaders.attempt]).toBe('0');
      expect(Number(sent.headers[RetryHeaders.notBefore])).toBeGreaterThanOrEqual(before);
      expect(Number(sent.headers[RetryHeaders.notBefore])).toBeLessThanOrEqual(Date.now());
      expect(sent.headers[RetryHeaders.originalTopic]).toBe(topic(Topics.orderEvents));
      expect(sent.headers[DeadLetterHeaders.replayedFrom]).toBe(`${topic(deadLetterTopic(ConsumerGroups.payment))}/0/0`);
      expect(sent.headers[EventHeaders.eventType]).toBe('order.placed');
      expect(sent.headers).not.toHaveProperty(DeadLetterHeaders.errorCode);

      const again = await api(`/${paymentId}/replay`, { method: 'POST' });
      expect(again.status).toBe(200);
      expect(again.json).toMatchObject({ alreadyReplayed: true, replayedAt: r.json.replayedAt, replayedBy: r.json.replayedBy });
      expect(await highWatermark(retry)).toBe('1');
      const [audit] = await gw.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM admin_audit WHERE action = 'dlq.replayed' AND target = ${paymentId}`;
      expect(audit?.n).toBe(1);
      const replayed = await api('?replayed=true');
      expect((replayed.json.items as { id: string; replay: unknown }[]).map((i) => i.id)).toEqual([paymentId]);
      expect((await api('?replayed=false')).json.items).toHaveLength(1);
    },
    KAFKA_MS,
  );

  test(
    'two concurrent replays send once',
    async () => {
      const answers = await Promise.all([1, 2].map(() => api(`/${validatorId}/replay`, { method: 'POST' })));
      const statuses = answers.map((a) => a.status).sort();
      if (statuses[1] === 409) {
        // They overlapped: the second found the row locked and did not wait for it.
        expect(statuses).toEqual([200, 409]);
        const conflict = answers.find((a) => a.status === 409);
        expect(conflict?.json.code).toBe('DLQ_REPLAY_IN_PROGRESS');
        expect(answers.find((a) => a.status === 200)?.json.alreadyReplayed).toBe(false);
      } else {
        expect(statuses).toEqual([200, 200]);
        expect(answers.map((a) => a.json.alreadyReplayed).sort()).toEqual([false, true]);
      }
      expect(await highWatermark(retryTopic(ConsumerGroups.validator))).toBe('1');
    },
    KAFKA_MS,
  );

  test(
    'a replay Kafka does not acknowledge records nothing (503)',
    async () => {
      const id = randomUUID();
      await gw.sql`
        INSERT INTO dead_letters (id, namespace, topic, kafka_partition, kafka_offset, stage, consumer_group, dead_lettered_at)
        VALUES (${id}, ${ns}, ${topic(deadLetterTopic(ConsumerGroups.inventory))}, 0, 999, 'inventory', ${ConsumerGroups.inventory}, now())`;
      const failing = new DeadLetters(gw.sql, { send: async () => Promise.reject(new Error('broker down')) }, gw.deps.codec, ns);
      const err = await failing.replay((await gw.user('admin')).userId, id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).kind).toBe('unavailable');
      expect((err as DomainError).code).toBe('DLQ_REPLAY_UNAVAILABLE');
      const [row] = await gw.sql`SELECT replayed_at FROM dead_letters WHERE id = ${id}`;
      expect(row?.replayed_at).toBeNull();
      const [audit] = await gw.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM admin_audit WHERE target = ${id}`;
      expect(audit?.n).toBe(0);
      await gw.sql`DELETE FROM dead_letters WHERE id = ${id}`;
    },
    KAFKA_MS,
  );

  test(
    'reading the topics again (a restart from offset 0) indexes nothing twice',
    async () => {
      await indexer.stop();
      const group = namespaced(DLQ_INDEXER_GROUP, ns);
      for (const g of [ConsumerGroups.payment, ConsumerGroups.validator])
        await admin.setOffsets({ groupId: group, topic: topic(deadLetterTopic(g)), partitions: [{ partition: 0, offset: '0' }] });
      // The group really starts from the beginning again (else this case could pass without re-reading).
      const committed = await admin.fetchOffsets({ groupId: group, topics: [topic(deadLetterTopic(ConsumerGroups.payment))] });
      expect(committed[0]?.partitions.map((p) => p.offset)).toEqual(['0']);
      indexer = startIndexer();
      // A third message behind the first on the same partition: once it is indexed, the first was read again.
      await deadLetter(ConsumerGroups.payment, randomUUID(), Buffer.from('third'));
      await eventually(async () => (await indexedCount()) >= 3, { what: 'the third dead letter indexed', timeoutMs: 30_000 });
      expect(await indexedCount()).toBe(3);
      const [first] = await gw.sql<
        { replayed: boolean }[]
      >`SELECT replayed_at IS NOT NULL AS replayed FROM dead_letters WHERE id = ${paymentId}`;
      expect(first?.replayed).toBe(true);
    },
    KAFKA_MS,
  );
});

describe('access and validation', () => {
  test('admins only: 401 without a token, 403 for a customer', async () => {
    const customer = await gw.user();
    expect((await gw.call('GET', '/api/v1/admin/dlq')).status).toBe(401);
    for (const [method, path] of [
      ['GET', ''],
      ['GET', `/${randomUUID()}`],
      ['POST', `/${randomUUID()}/replay`],
    ] as const) {
      const r = await api(path, { method, token: customer.accessToken });
      expect(r.status).toBe(403);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
    }
  });

  test('unknown id 404, malformed id or query 400', async () => {
    for (const method of ['GET', 'POST'] as const) {
      const path = (id: string) => (method === 'GET' ? `/${id}` : `/${id}/replay`);
      const unknown = await api(path(randomUUID()), { method });
      expect(unknown.status).toBe(404);
      expect(unknown.json.code).toBe('DLQ_NOT_FOUND');
      const bad = await api(path('not-a-uuid'), { method });
      expect(bad.status).toBe(400);
      expect(bad.json.errors?.[0]?.field).toBe('/params/id');
    }
    const stage = await api('?stage=shipping');
    expect(stage.status).toBe(400);
    expect(stage.json.errors?.[0]?.field).toBe('/query/stage');
    expect((await api('?orderId=nope')).status).toBe(400);
    expect((await api('?replayed=yes')).status).toBe(400);
    expect((await api('?limit=0')).status).toBe(400);
    const cursor = await api('?cursor=bm90LWEtY3Vyc29y');
    expect(cursor.status).toBe(400);
    expect(cursor.json.code).toBe('DLQ_BAD_CURSOR');
  });
});
