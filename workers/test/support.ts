/**
 * Real-stack fixtures for the worker runtime: a private namespace (its own topics and groups), real
 * stage runners, and helpers to produce events, read topics and seed orders.
 */

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { ConsumerGroups, deadLetterTopic, EventCodec, Events, namespaced, retryTopic, schemaRegistryFor, Topics } from '@orders/contracts';
import { samplePayloads } from '@orders/contracts/testing/samples';
import { createLogger, createMetrics, createPostgres, createRedis, feedKeys, StatusFeedPublisher, uuidv7 } from '@orders/platform';
import { eventually } from '@orders/platform/testing';
import Kafka from 'node-rdkafka';
import type { StageName } from '../src/env';
import { assembleStage } from '../src/runtime/assemble';
import { createProducer } from '../src/runtime/kafka';
import { stageMetrics } from '../src/runtime/metrics';
import type { StageRunner } from '../src/runtime/runner';
import type { Stage } from '../src/runtime/stage';
import { createStages } from '../src/stages/index';
import { PaymentProvider } from '../src/stages/payment/provider';
import { FraudScorer } from '../src/stages/validator/fraud/pool';

export const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const settings = { brokers, clientId: 'workers-test', sessionTimeoutMs: 6_000, maxPollIntervalMs: 60_000 };

/** The simulated payment provider as a real process on a free port (stopped with the fixture). */
async function startProvider(): Promise<{ url: string; stop(): void }> {
  const port = 18_500 + Math.floor(Math.random() * 400);
  const proc = spawn('../node_modules/.bin/bun', ['../ops/simulators/payment-provider.ts'], {
    env: { ...process.env, PAYMENT_PROVIDER_PORT: String(port), PAYMENT_LATENCY_MS: '2', PAYMENT_JITTER_MS: '1' },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await eventually(
      () =>
        fetch(`${url}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      { what: 'the payment provider simulator to answer /healthz', timeoutMs: 10_000, everyMs: 100 },
    );
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return { url, stop: () => proc.kill('SIGKILL') };
}

export async function fixture(
  opts: { stages?: StageName[]; maxRetries?: number; providerTimeoutMs?: number; consumeTimeoutMs?: number } = {},
) {
  const namespace = `wk${randomUUID().slice(0, 8)}`;
  const provider = await startProvider();
  const sql = createPostgres({ url: process.env.DATABASE_URL as string, max: 5, applicationName: 'workers-test' });
  const redis = createRedis({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', connectionName: 'workers-test' });
  const codec = new EventCodec(schemaRegistryFor(process.env.SCHEMA_REGISTRY_URL || undefined));
  await codec.prepare();
  const topics = [
    Topics.orderEvents,
    Topics.orderStatus,
    ...Object.values(ConsumerGroups).flatMap((g) => [retryTopic(g), deadLetterTopic(g)]),
  ].map((t) => namespaced(t, namespace));
  const admin = Kafka.AdminClient.create({ 'metadata.broker.list': brokers.join(',') });
  await Promise.all(
    topics.map(
      (topic) =>
        new Promise<void>((resolve, reject) =>
          admin.createTopic({ topic, num_partitions: 3, replication_factor: 1 }, 10_000, (err) => (err ? reject(err) : resolve())),
        ),
    ),
  );
  const producer = await createProducer(settings);
  const logger = createLogger({ service: 'workers-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const metrics = createMetrics('workers-test', { defaultMetrics: false });
  const sm = stageMetrics(metrics);
  const feed = new StatusFeedPublisher(redis, feedKeys(namespace));
  const runners: StageRunner[] = [];
  const scorer = new FraudScorer(1);
  const stages = createStages({
    sql,
    scorer,
    provider: new PaymentProvider({ url: provider.url, timeoutMs: opts.providerTimeoutMs ?? 1_000 }),
    fraudRejectThreshold: 0.97,
    paymentConcurrency: 8,
    catalogueTtlMs: 0,
  });

  async function run(stage: Stage) {
    const started = await assembleStage(stage, {
      sql,
      codec,
      producer,
      feed,
      logger,
      metrics: sm,
      kafka: settings,
      namespace,
      batchSize: 50,
      maxBuffered: 200,
      concurrentBatches: 2,
      consumeTimeoutMs: opts.consumeTimeoutMs ?? 100,
      maxRetries: opts.maxRetries ?? 2,
      retryBaseMs: 50,
      retryMaxMs: 500,
    });
    for (const r of started) r.start();
    runners.push(...started);
    return started;
  }

  async function produce(key: string, value: Buffer, topic: string = Topics.orderEvents) {
    await producer.send(namespaced(topic, namespace), key, value, {});
  }

  /** Every message of a topic from the beginning, as soon as `done` is satisfied (throws if not within `ms`). */
  async function read(topic: string, done: (msgs: Kafka.Message[]) => boolean, ms = 15_000): Promise<Kafka.Message[]> {
    const consumer = new Kafka.KafkaConsumer(
      { 'metadata.broker.list': brokers.join(','), 'group.id': `reader-${randomUUID()}`, 'enable.auto.commit': false },
      { 'auto.offset.reset': 'earliest' },
    );
    await new Promise<void>((resolve, reject) => consumer.connect({}, (err) => (err ? reject(err) : resolve())));
    const full = namespaced(topic, namespace);
    consumer.assign([0, 1, 2].map((partition) => ({ topic: full, partition, offset: 0 })));
    consumer.setDefaultConsumeTimeout(100);
    const msgs: Kafka.Message[] = [];
    try {
      // Each probe consumes what arrived (waiting up to the consume timeout), so no pause in between.
      return await eventually(
        async () => {
          const batch = await new Promise<Kafka.Message[]>((resolve, reject) =>
            consumer.consume(100, (err, m) => (err ? reject(err) : resolve(m))),
          );
          msgs.push(...batch);
          return done(msgs) ? msgs : undefined;
        },
        { what: `the expected messages on ${full}`, timeoutMs: ms, everyMs: 0 },
      );
    } finally {
      await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
    }
  }

  /** A user with an order of `quantity` × `sku` (two mugs by default), paid with `token`. */
  async function seedOrder(
    status = 'pending',
    {
      token,
      sku = 'MUG-BLUE',
      quantity = 2,
      unitPriceCents: price = 1299,
    }: { token?: string | null; sku?: string; quantity?: number; unitPriceCents?: number } = {},
  ) {
    const userId = uuidv7();
    const orderId = uuidv7();
    await sql`INSERT INTO users (id, email) VALUES (${userId}, ${`wk-${userId}@example.com`})`;
    await sql`
      INSERT INTO orders (id, user_id, status, currency, total_cents, payment_method_token)
      VALUES (${orderId}, ${userId}, ${status}, 'EUR', ${quantity * price}, ${token === undefined ? 'pm_card_visa' : token})`;
    await sql`INSERT INTO order_items (order_id, line_no, sku, quantity, unit_price_cents) VALUES (${orderId}, 1, ${sku}, ${quantity}, ${price})`;
    return { userId, orderId, items: [{ sku, quantity, unitPriceCents: price }], totalCents: quantity * price };
  }

  type Seeded = { userId: string; orderId: string; items: { sku: string; quantity: number; unitPriceCents: number }[]; totalCents: number };

  /** The `order.placed` event the gateway would publish for a seeded order (a fresh event id). */
  function placedFor(s: Seeded) {
    const { userId, orderId, items, totalCents } = s;
    return { ...samplePayloads['order.placed'], eventId: uuidv7(), orderId, userId, items, totalCents };
  }

  async function place(s: Seeded) {
    await produce(s.orderId, codec.encode(Events.OrderPlaced, placedFor(s)));
  }

  /** What the gateway does on a cancel: status, history and the event, together. */
  async function cancel(orderId: string, userId: string) {
    const [o] = await sql<{ status: string; version: number }[]>`SELECT status, version FROM orders WHERE id = ${orderId}`;
    const eventId = uuidv7();
    await sql`UPDATE orders SET status = 'cancelled', status_reason = 'test', version = version + 1 WHERE id = ${orderId}`;
    await sql`
      INSERT INTO order_status_history (order_id, from_status, to_status, reason, version, event_id)
      VALUES (${orderId}, ${o?.status ?? null}, 'cancelled', 'test', ${(o?.version ?? 0) + 1}, ${eventId})`;
    await produce(
      orderId,
      codec.encode('order.cancelled', {
        eventId,
        occurredAt: Date.now(),
        orderId,
        userId,
        reason: 'test',
        cancelledBy: userId,
        previousStatus: o?.status ?? 'pending',
      }),
    );
  }

  async function charges(orderId: string): Promise<{ id: string; refunded: number }[]> {
    const r = await fetch(`${provider.url}/v1/charges?reference=${orderId}`);
    return ((await r.json()) as { data: { id: string; refunded: number }[] }).data;
  }

  for (const name of opts.stages ?? []) await run(stages[name]);

  async function close() {
    await Promise.all(runners.map((r) => r.stop()));
    await scorer.close();
    provider.stop();
    await new Promise<void>((resolve) =>
      admin.deleteTopic(topics[0] as string, 5_000, () => {
        resolve();
      }),
    );
    for (const t of topics.slice(1)) await new Promise<void>((resolve) => admin.deleteTopic(t, 5_000, () => resolve()));
    admin.disconnect();
    await producer.disconnect();
    await redis.quit();
    await sql.end({ timeout: 5 });
  }

  return {
    namespace,
    sql,
    redis,
    codec,
    producer,
    run,
    produce,
    read,
    seedOrder,
    placedFor,
    place,
    cancel,
    charges,
    providerUrl: provider.url,
    close,
    stages,
    feedKeys: feedKeys(namespace),
  };
}

export type Fixture = Awaited<ReturnType<typeof fixture>>;
export { uuidv7 };
