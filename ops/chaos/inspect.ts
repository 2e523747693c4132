/**
 * After a chaos run (its stack left as it was): where did an order's messages go? Starts the chaos
 * Kafka cluster and its proxies if they are down, prints every message keyed by the given order ids in
 * every topic of the `chaos` namespace (offset, headers), and each consumer group's committed offset on
 * those partitions.
 *
 *   bun ops/chaos/inspect.ts <order id> [<order id> …]
 */
import { EventHeaders } from '@orders/contracts';
import { eventually } from '@orders/platform/testing';
import { Kafka, logLevel } from 'kafkajs';
import { registerLz4 } from '../kafka/lz4';
import * as kafkaCluster from '../local/components/kafka-cluster.mjs';
import * as toxiproxy from '../local/components/toxiproxy.mjs';
import { cfg, NAMESPACE, PROXIES, toxi, urls, waitForBrokers } from './stack';

const ids = process.argv.slice(2);
if (ids.length === 0) {
  console.error('usage: bun ops/chaos/inspect.ts <order id> [<order id> …]');
  process.exit(2);
}
registerLz4();
await toxiproxy.up(cfg);
await toxi.populate(
  Object.entries(PROXIES).map(([name, p]) => ({ name, listen: `${cfg.host}:${p.listen}`, upstream: `${cfg.host}:${p.upstream}` })),
);
await kafkaCluster.up(cfg);
await waitForBrokers(kafkaCluster.NODES);
const kafka = new Kafka({ clientId: 'chaos-inspect', brokers: urls.brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${NAMESPACE}.`));
const ends = new Map<string, number>();
for (const t of topics) for (const o of await admin.fetchTopicOffsets(t)) ends.set(`${t}/${o.partition}`, Number(o.high));
const hits: { topic: string; partition: number; offset: string; headers: Record<string, string> }[] = [];
const consumer = kafka.consumer({ groupId: `chaos-inspect-${Date.now()}` });
await consumer.connect();
await consumer.subscribe({ topics, fromBeginning: true });
const left = new Set([...ends].filter(([, high]) => high > 0).map(([k]) => k));
await consumer.run({
  eachMessage: async ({ topic, partition, message }) => {
    if (ids.includes(message.key?.toString() ?? ''))
      hits.push({
        topic,
        partition,
        offset: message.offset,
        headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
      });
    if (Number(message.offset) >= (ends.get(`${topic}/${partition}`) ?? 0) - 1) left.delete(`${topic}/${partition}`);
  },
});
// Whatever was read within the minute is printed: a partial answer beats none for a look around.
await eventually(() => left.size === 0, { what: 'every topic read to its end', timeoutMs: 60_000, everyMs: 200 }).catch(() => {});
await consumer.disconnect();
for (const h of hits)
  console.log(`${h.topic}[${h.partition}]@${h.offset} ${h.headers[EventHeaders.eventType] ?? ''} ${JSON.stringify(h.headers)}`);
const partitions = new Set(hits.map((h) => `${h.topic}/${h.partition}`));
for (const g of (await admin.listGroups()).groups.filter((g) => g.groupId.startsWith(`${NAMESPACE}.`))) {
  for (const t of await admin.fetchOffsets({ groupId: g.groupId })) {
    for (const p of t.partitions)
      if (partitions.has(`${t.topic}/${p.partition}`))
        console.log(`group ${g.groupId} committed ${t.topic}[${p.partition}] at ${p.offset}`);
  }
}
await admin.disconnect();
process.exit(0);
