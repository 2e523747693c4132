/**
 * Reading a Kafka message's headers. node-rdkafka hands them over as a list of one-entry objects whose
 * values are Buffers; the names are the contracts' (EventHeaders, RetryHeaders, DeadLetterHeaders).
 */
import type Kafka from 'node-rdkafka';

/** Every header as text; a name given twice keeps its last value. */
export function headerMap(message: Kafka.Message): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of message.headers ?? []) for (const [k, v] of Object.entries(h)) out[k] = String(v);
  return out;
}

/** One header as text (its first value), without building the whole map: read for every message. */
export function header(message: Kafka.Message, name: string): string | undefined {
  for (const h of message.headers ?? []) {
    const v = h[name];
    if (v !== undefined) return String(v);
  }
  return undefined;
}
