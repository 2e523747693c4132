/**
 * Bad data rather than a broken component: messages on the order-events topic that no stage can
 * decode. The validator must park them in its DLQ and go on; the checker then looks for exactly them.
 */
import { randomUUID } from 'node:crypto';
import { namespaced, Topics } from '@orders/contracts';
import { Kafka, logLevel } from 'kafkajs';
import { NAMESPACE, urls } from '../stack';
import type { Fault } from './fault';

/** Undecodable messages on the order-events topic: the validator must park them in its DLQ and go on. */
export const poison = (count = 3): Fault => ({
  name: 'poison messages',
  async run(ctx) {
    const startedAt = Date.now();
    const kafka = new Kafka({ clientId: 'chaos-poison', brokers: urls.brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    const keys = Array.from({ length: count }, () => `poison-${randomUUID()}`);
    await producer.connect();
    await producer.send({
      topic: namespaced(Topics.orderEvents, NAMESPACE),
      acks: -1,
      messages: keys.map((key, i) => ({ key, value: Buffer.from(`\u0000not avro ${i}`) })),
    });
    await producer.disconnect();
    ctx.poisonKeys.push(...keys);
    return { target: `${count} undecodable messages on order-events`, startedAt, healedAt: Date.now(), observations: [] };
  },
});
