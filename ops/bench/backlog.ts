/**
 * A backlog for the one-stage benchmark: `count` valid `order.placed` events (Avro, with the headers the
 * workers read) written to the order-events topic with acks from all replicas, in batches of 2,000,
 * before any consumer starts.
 */
import { type EventCodec, EventHeaders, Events } from '@orders/contracts';
import { uuidv7 } from '@orders/platform';
import { Kafka, logLevel } from 'kafkajs';

/** Writes the events; resolves with the seconds it took. */
export async function writePlacedBacklog(o: { brokers: string[]; topic: string; codec: EventCodec; count: number }): Promise<number> {
  const kafka = new Kafka({ clientId: 'bench-loader', brokers: o.brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const t0 = performance.now();
  for (let i = 0; i < o.count; i += 2_000) {
    const messages = Array.from({ length: Math.min(2_000, o.count - i) }, (_, j) => {
      const orderId = uuidv7();
      const eventId = uuidv7();
      const value = o.codec.encode(Events.OrderPlaced, {
        eventId,
        occurredAt: Date.now(),
        orderId,
        userId: `0192f5b4-6a1e-7cc0-9a57-${String(1e11 + ((i + j) % 500)).padStart(12, '0')}`,
        currency: 'EUR',
        totalCents: 1_299 * (1 + (j % 3)) + 900,
        items: [
          { sku: 'MUG-BLUE', quantity: 1 + (j % 3), unitPriceCents: 1_299 },
          { sku: 'SOCKS-3PACK', quantity: 1, unitPriceCents: 900 },
        ],
        paymentMethodToken: 'pm_card_visa',
      });
      return { key: orderId, value, headers: { [EventHeaders.eventId]: eventId, [EventHeaders.eventType]: Events.OrderPlaced } };
    });
    await producer.send({ topic: o.topic, messages, acks: -1 });
  }
  await producer.disconnect();
  return (performance.now() - t0) / 1000;
}
