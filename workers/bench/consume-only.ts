/**
 * The baseline for the stage benchmark, run as its own process like a stage: the same librdkafka
 * consumer settings, batch size and decode as the runtime, and nothing else (no database, no outputs).
 * It consumes until it has decoded EVENTS messages and prints one JSON line with the rate.
 *
 *   EVENTS, TOPIC, GROUP, KAFKA_BROKERS, SCHEMA_REGISTRY_URL, KAFKA_BATCH_SIZE
 */
import { EventCodec, schemaRegistryFor } from '@orders/contracts';
import { consumeBatch, createConsumer } from '../src/runtime/kafka';

const events = Number(process.env.EVENTS);
const topic = process.env.TOPIC as string;
const batchSize = Number(process.env.KAFKA_BATCH_SIZE ?? 100);
const codec = new EventCodec(schemaRegistryFor(process.env.SCHEMA_REGISTRY_URL || undefined));
await codec.prepare();
const consumer = await createConsumer(
  {
    brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    clientId: 'bench-baseline',
    sessionTimeoutMs: 10_000,
    maxPollIntervalMs: 300_000,
  },
  process.env.GROUP as string,
);
consumer.subscribe([topic]);
let decoded = 0;
let first = 0;
const deadline = Date.now() + 120_000;
while (decoded < events && Date.now() < deadline) {
  const batch = await consumeBatch(consumer, batchSize, 200);
  if (batch.length === 0) continue;
  if (first === 0) first = performance.now();
  for (const m of batch) {
    await codec.decode(m.value as Buffer);
    decoded += 1;
  }
  const last = batch[batch.length - 1];
  if (last) consumer.offsetsStore([{ topic: last.topic, partition: last.partition, offset: last.offset + 1 }]);
}
const ms = performance.now() - first;
process.stdout.write(`${JSON.stringify({ events: decoded, ms, rate: (decoded / ms) * 1000 })}\n`);
await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
