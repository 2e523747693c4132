/**
 * Consumer lag of every pipeline stage, as the benches judge "drained": messages on the main topics not
 * yet committed by each stage's consumer group, summed.
 */
import { ConsumerGroups, namespaced, Topics } from '@orders/contracts';
import type { Admin } from 'kafkajs';

/** A probe of the namespace's total lag through `admin` (connected by the caller). */
export function consumerLag(admin: Admin, namespace: string): () => Promise<number> {
  const watched = [
    ...['validator', 'payment', 'inventory', 'fulfillment', 'projector'].map((s) => ({
      group: namespaced(ConsumerGroups[s as keyof typeof ConsumerGroups], namespace),
      topic: namespaced(Topics.orderEvents, namespace),
    })),
    { group: namespaced(ConsumerGroups.webhooks, namespace), topic: namespaced(Topics.orderStatus, namespace) },
  ];
  return async () => {
    let total = 0;
    const highs = new Map<string, Map<number, number>>();
    for (const { group, topic } of watched) {
      let high = highs.get(topic);
      if (!high) {
        high = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
        highs.set(topic, high);
      }
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      for (const p of committed?.partitions ?? []) total += Math.max(0, (high.get(p.partition) ?? 0) - Math.max(0, Number(p.offset)));
    }
    return total;
  };
}
