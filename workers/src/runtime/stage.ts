/**
 * What a worker stage is: a consumer group that reacts to some event types, writes its effect in the
 * transaction it is given, and returns what it wants emitted afterwards. The runtime (runner.ts) owns
 * everything else: decoding, de-duplication, retries, emitting, offsets.
 */
import type { ConsumerGroup, DecodedEvent, EventPayloads, EventType, StatusUpdate } from '@orders/contracts';
import type { Logger, TransactionSql } from '@orders/platform';

/** An event for Kafka. `topic` is the base name; the runtime applies the namespace. */
export interface EventOutput<K extends EventType = EventType> {
  kind: 'event';
  topic: string;
  type: K;
  key: string;
  payload: EventPayloads[K];
}

/** A live update for the user's browsers (Redis pub/sub + recovery stream). */
export interface FeedOutput {
  kind: 'feed';
  update: StatusUpdate;
}

export type Output = EventOutput | FeedOutput;

export interface HandlerContext {
  /** The stage's transaction: the effect and the processed-event record commit together. */
  tx: TransactionSql<Record<string, never>>;
  logger: Logger;
  /** UUIDv7 for ids of new events and records. */
  newId(): string;
}

export interface Stage {
  name: string;
  /** Consumer group (base name). */
  group: ConsumerGroup;
  /** Topics consumed (base names). */
  topics: string[];
  /** Event types the stage acts on; anything else is acknowledged without a database round trip. */
  handles: readonly EventType[];
  handle(event: DecodedEvent, ctx: HandlerContext): Promise<Output[]>;
}

/** A handler error that retrying cannot fix (missing order, impossible data): dead-letter at once. */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function event<K extends EventType>(topic: string, type: K, key: string, payload: EventPayloads[K]): EventOutput<K> {
  return { kind: 'event', topic, type, key, payload };
}
