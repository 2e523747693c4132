/**
 * Creates the platform's Kafka topics (the broker has auto-creation off): the lifecycle topic, the
 * status topic, and a retry and a dead-letter topic per consumer group. Idempotent: existing topics are
 * left alone (partitions are only ever added by hand, since adding them moves keys between partitions).
 *
 *   bun ops/kafka/topics.ts           uses KAFKA_BROKERS and NAMESPACE
 *   bun ops/kafka/topics.ts --reset   first deletes the namespace's topics and groups (tests)
 */
import { ConsumerGroups, deadLetterTopic, namespaced, ORDER_EVENTS_PARTITIONS, retryTopic, Topics } from '@orders/contracts';
import { int, parseEnv } from '@orders/platform/config/env';
import { commonSpec, kafkaSpec } from '@orders/platform/config/fragments';
import { type Admin, Kafka, logLevel } from 'kafkajs';

interface TopicSpec {
  topic: string;
  numPartitions: number;
  configEntries?: { name: string; value: string }[];
}

function topicPlan(namespace: string, replicationFactor = 1): (TopicSpec & { replicationFactor: number })[] {
  const week = String(7 * 24 * 3600 * 1000);
  const specs: TopicSpec[] = [
    { topic: Topics.orderEvents, numPartitions: ORDER_EVENTS_PARTITIONS, configEntries: [{ name: 'retention.ms', value: week }] },
    { topic: Topics.orderStatus, numPartitions: ORDER_EVENTS_PARTITIONS, configEntries: [{ name: 'retention.ms', value: week }] },
    ...Object.values(ConsumerGroups).flatMap((group) => [
      { topic: retryTopic(group), numPartitions: ORDER_EVENTS_PARTITIONS, configEntries: [{ name: 'retention.ms', value: week }] },
      // Dead letters wait for a human: keep them for a month.
      { topic: deadLetterTopic(group), numPartitions: 1, configEntries: [{ name: 'retention.ms', value: String(30 * 24 * 3600 * 1000) }] },
    ]),
  ];
  const minIsr = String(Math.min(2, replicationFactor));
  return specs.map((s) => ({
    ...s,
    topic: namespaced(s.topic, namespace),
    replicationFactor,
    configEntries: [...(s.configEntries ?? []), { name: 'min.insync.replicas', value: minIsr }],
  }));
}

/**
 * Right after a broker (re)starts its group coordinators may still be loading their logs
 * (COORDINATOR_LOAD_IN_PROGRESS, seen in npm test on a fresh broker, both for ListGroups and DeleteGroups):
 * that answer is worth waiting out, 30 s at most.
 */
async function whileCoordinatorLoads<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= 30 || !/coordinator is loading|not coordinator|coordinator not available/i.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

/**
 * Deletes a namespace's topics and consumer groups, so a test run starts from empty topics and no
 * committed offsets. Refuses the unprefixed (dev) namespace.
 */
export async function resetNamespace(brokers: string[], namespace: string): Promise<void> {
  if (namespace === '') throw new Error('refusing to reset the unprefixed namespace');
  const kafka = new Kafka({ clientId: 'orders-ops-topics', brokers, logLevel: logLevel.ERROR, retry: { retries: 8 } });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const prefix = `${namespace}.`;
    const groups = (await whileCoordinatorLoads(() => admin.listGroups())).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
    if (groups.length > 0) await whileCoordinatorLoads(() => admin.deleteGroups(groups));
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
    // Deletion is asynchronous in the controller: wait until the names are free again.
    for (let i = 0; i < 100; i++) {
      const left = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      if (left.length === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`topics of namespace ${namespace} were not deleted in time`);
  } finally {
    await admin.disconnect();
  }
}

/** Polls until every partition of `topics` has a leader (30 s at most); `cause` is rethrown otherwise. */
async function waitForLeaders(admin: Admin, topics: string[], cause: unknown): Promise<void> {
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 500));
    const meta = await admin.fetchTopicMetadata({ topics }).catch(() => undefined);
    if (
      meta?.topics.length === topics.length &&
      meta.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))
    )
      return;
  }
  throw cause;
}

export async function ensureTopics(brokers: string[], namespace: string, replicationFactor = 1): Promise<string[]> {
  const kafka = new Kafka({ clientId: 'orders-ops-topics', brokers, logLevel: logLevel.ERROR, retry: { retries: 8 } });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const plan = topicPlan(namespace, replicationFactor);
    const missing = plan.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      // Right after a broker restart the leaders of new partitions can take a moment to be known
      // (UNKNOWN_TOPIC_OR_PARTITION from the metadata wait): the topics exist, so wait for leaders again.
      await admin.createTopics({ topics: missing, waitForLeaders: true }).catch(async (err) => {
        await waitForLeaders(
          admin,
          missing.map((t) => t.topic),
          err,
        );
      });
    }
    return missing.map((t) => t.topic);
  } finally {
    await admin.disconnect();
  }
}

/** What the command reads, validated before it connects (brokers and namespace as the services read them). */
const cliSpec = {
  KAFKA_BROKERS: kafkaSpec('orders-ops-topics').KAFKA_BROKERS,
  NAMESPACE: commonSpec.NAMESPACE,
  KAFKA_REPLICATION_FACTOR: int({ default: 1, min: 1 }),
};

if (import.meta.main) {
  Promise.resolve()
    .then(async () => {
      const env = parseEnv(cliSpec, process.env);
      if (process.argv.includes('--reset')) await resetNamespace(env.KAFKA_BROKERS, env.NAMESPACE);
      return ensureTopics(env.KAFKA_BROKERS, env.NAMESPACE, env.KAFKA_REPLICATION_FACTOR);
    })
    .then(
      (created) => {
        process.stdout.write(`[topics] ${created.length > 0 ? `created ${created.join(', ')}` : 'all topics exist'}\n`);
        process.exit(0);
      },
      (err) => {
        process.stderr.write(`[topics] ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
}
