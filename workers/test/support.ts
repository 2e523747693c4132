/**
 * Real-stack fixtures for the worker runtime: a private namespace (its own topics and groups), real
 * stage runners, and helpers to produce events, read topics and seed orders.
 */
import { randomUUID } from 'node:crypto';
import { ConsumerGroups, deadLetterTopic, EventCodec, namespaced, retryTopic, schemaRegistryFor, Topics } from '@orders/contracts';
import { createLogger, createMetrics, createPostgres, createRedis, feedKeys, StatusFeedPublisher, uuidv7 } from '@orders/platform';
import Kafka from 'node-rdkafka';
import { assembleStage } from '../src/runtime/assemble';
import { createProducer } from '../src/runtime/kafka';
import { type StageRunner, stageMetrics } from '../src/runtime/runner';
import type { Stage } from '../src/runtime/stage';

export const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const settings = { brokers, clientId: 'workers-test', sessionTimeoutMs: 6_000, maxPollIntervalMs: 60_000 };

export async function fixture() {
  const namespace = `wk${randomUUID().slice(0, 8)}`;
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

  async function run(stage: Stage, opts: { maxRetries?: number; retryBaseMs?: number } = {}) {
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
      consumeTimeoutMs: 100,
      maxRetries: opts.maxRetries ?? 2,
      retryBaseMs: opts.retryBaseMs ?? 50,
      retryMaxMs: 500,
    });
    for (const r of started) r.start();
    runners.push(...started);
    return started;
  }

  async function produce(key: string, value: Buffer, topic: string = Topics.orderEvents) {
    await producer.send(namespaced(topic, namespace), key, value, {});
  }

  /** Every message of a topic from the beginning, until `done` is satisfied or the time is up. */
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
    const end = Date.now() + ms;
    while (!done(msgs) && Date.now() < end) {
      const batch = await new Promise<Kafka.Message[]>((resolve, reject) =>
        consumer.consume(100, (err, m) => (err ? reject(err) : resolve(m))),
      );
      msgs.push(...batch);
    }
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
    return msgs;
  }

  /** A user with a pending order of one mug. */
  async function seedOrder(status = 'pending') {
    const userId = uuidv7();
    const orderId = uuidv7();
    await sql`INSERT INTO users (id, email) VALUES (${userId}, ${`wk-${userId}@example.com`})`;
    await sql`INSERT INTO orders (id, user_id, status, currency, total_cents) VALUES (${orderId}, ${userId}, ${status}, 'EUR', 2598)`;
    await sql`INSERT INTO order_items (order_id, line_no, sku, quantity, unit_price_cents) VALUES (${orderId}, 1, 'MUG-BLUE', 2, 1299)`;
    return { userId, orderId };
  }

  async function waitFor<T>(probe: () => Promise<T | undefined | null | false>, ms = 15_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await probe();
      if (v) return v;
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function close() {
    await Promise.all(runners.map((r) => r.stop()));
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

  return { namespace, sql, redis, codec, producer, run, produce, read, seedOrder, waitFor, close, feedKeys: feedKeys(namespace) };
}

export type Fixture = Awaited<ReturnType<typeof fixture>>;
export { uuidv7 };
