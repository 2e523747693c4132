/**
 * Creates the platform's Kafka topics (the broker has auto-creation off): the lifecycle topic, the
 * status topic, and a retry and a dead-letter topic per consumer group. Idempotent: existing topics are
 * left alone (partitions are only ever added by hand, since adding them moves keys between partitions).
 *
 *   bun ops/kafka/topics.ts           uses KAFKA_BROKERS and NAMESPACE
 *   bun ops/kafka/topics.ts --reset   first deletes the namespace's topics and groups (tests)
 */
import { ConsumerGroups, deadLetterTopic, namespaced, ORDER_EVENTS_PARTITIONS, retryTopic, Topics } from '@orders/contracts';
import { Kafka, logLevel } from 'kafkajs';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  configEntries?: { name: string; value: string }[];
}

export function topicPlan(namespace: string, replicationFactor = 1): (TopicSpec & { replicationFactor: number })[] {
  const week = String(7 * 24 * 3600 * 1000);
  const specs: TopicSpec[] = [
    { topic: Topics.orderEvents, numPartitions: ORDER_EVENTS_PARTITIONS, configEntries: [{ name: 'retention.ms', value: week }] },
    { topic: Topics.orderStatus, numPartitions: ORDER_EVENTS_PARTITIONS, configEntries: [{ name: 'retention.ms', value: week }] },
    ...Object.values(ConsumerGroups).flatMap((group) => [
      { topic: retryTopic(group), numPartitions: ORDER_EVENTS_PARTITIONS },
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
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
    if (groups.length > 0) await admin.deleteGroups(groups);
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

export async function ensureTopics(brokers: string[], namespace: string, replicationFactor = 1): Promise<string[]> {
  const kafka = new Kafka({ clientId: 'orders-ops-topics', brokers, logLevel: logLevel.ERROR, retry: { retries: 8 } });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topicPlan(namespace, replicationFactor).filter((t) => !existing.has(t.topic));
    if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: true });
    return missing.map((t) => t.topic);
  } finally {
    await admin.disconnect();
  }
}

if (import.meta.main) {
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim());
  const namespace = process.env.NAMESPACE ?? '';
  const reset = process.argv.includes('--reset') ? resetNamespace(brokers, namespace) : Promise.resolve();
  reset
    .then(() => ensureTopics(brokers, namespace))
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
