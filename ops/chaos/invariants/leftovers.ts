/**
 * What must be left over once the run has drained: an empty outbox, and in the stages' DLQs exactly the
 * messages poisoned on purpose (read back from the topics).
 */
import { deadLetterTopic, namespaced, StageInputs } from '@orders/contracts';
import { eventually } from '@orders/platform/testing';
import { Kafka, logLevel } from 'kafkajs';
import { registerLz4 } from '../../kafka/lz4';
import { NAMESPACE, urls } from '../stack';
import { type Evidence, type Row, row } from './history';

/** Every message of the stages' DLQ topics: key and the stage that parked it. */
async function dlqMessages(): Promise<{ key: string; topic: string }[]> {
  // The workers' producers compress with LZ4.
  registerLz4();
  const kafka = new Kafka({ clientId: 'chaos-checker', brokers: urls.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const out: { key: string; topic: string }[] = [];
  try {
    const topics = (Object.keys(StageInputs) as (keyof typeof StageInputs)[]).map((g) => namespaced(deadLetterTopic(g), NAMESPACE));
    const withData: { topic: string; partition: number; low: number; high: number }[] = [];
    for (const topic of topics) {
      for (const o of await admin.fetchTopicOffsets(topic))
        if (Number(o.high) > Number(o.low)) withData.push({ topic, partition: o.partition, low: Number(o.low), high: Number(o.high) });
    }
    if (withData.length === 0) return out;
    const consumer = kafka.consumer({ groupId: `chaos-checker-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topics: [...new Set(withData.map((w) => w.topic))], fromBeginning: true });
    const left = new Map(withData.map((w) => [`${w.topic}/${w.partition}`, w.high]));
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        out.push({ key: message.key?.toString() ?? '', topic });
        if (Number(message.offset) >= (left.get(`${topic}/${partition}`) ?? 0) - 1) left.delete(`${topic}/${partition}`);
      },
    });
    // A partial read is judged as it is (the row then shows fewer parked keys), not an error here.
    await eventually(() => left.size === 0, { what: 'the DLQ topics read to their end', timeoutMs: 30_000, everyMs: 100 }).catch(() => {});
    await consumer.disconnect();
    return out;
  } finally {
    await admin.disconnect();
  }
}

/** Row 7 of the table: the outbox and the DLQs. */
export async function leftoverInvariants({ sql, h }: Evidence): Promise<Row[]> {
  const rows: Row[] = [];
  // 7. The outbox drains; the DLQs hold only what was poisoned on purpose.
  const [outbox] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox`;
  rows.push(row('the outbox drains', outbox?.n === 0, `${outbox?.n} rows left`));
  const dlq = await dlqMessages();
  const poison = new Set(h.poisonKeys);
  const unexpected = dlq.filter((m) => !poison.has(m.key));
  const parked = new Set(dlq.filter((m) => poison.has(m.key)).map((m) => m.key));
  rows.push(
    row(
      'no message in a DLQ but the poisoned ones',
      unexpected.length === 0 && parked.size === poison.size,
      `${dlq.length} DLQ messages; ${parked.size} of ${poison.size} poisoned keys parked; ${unexpected.length} others${
        unexpected.length ? ` (${[...new Set(unexpected.map((u) => u.topic))].join(', ')})` : ''
      }`,
    ),
  );
  return rows;
}
