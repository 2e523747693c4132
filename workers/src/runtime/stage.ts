/**
 * What a worker stage is: a consumer group that reacts to some event types, writes its effect in the
 * transaction it is given, and returns what it wants emitted afterwards. Work that must not run inside
 * a database transaction (calls to a payment provider, CPU work on the thread pool) goes in `prepare`,
 * which sees the whole batch. The runtime owns everything else: decoding, de-duplication, batching,
 * retries, dead letters, emitting, offsets.
 *
 * A stage whose only effect is what it emits (the validator: a verdict) `decide`s instead of handling:
 * no transaction is opened for it, and its processed-event records and their outputs are written in one
 * statement per batch, which is also the de-duplication.
 */
import type { ConsumerGroup, DecodedEvent, EventPayloads, EventType, StatusUpdate } from '@orders/contracts';
import type { Logger, Sql, TransactionSql } from '@orders/platform';
import type { WorkerErrorCode } from '../error-codes';

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

export interface PrepareContext {
  /** Reads outside the stage's transaction (status checks before an external call). */
  sql: Sql;
  logger: Logger;
}

/** One prepared result per event: a value for `handle`, or the error that event failed with. */
export type Prepared = { ok: true; value: unknown } | { ok: false; error: unknown };

/** What `decide` gets: no transaction, since a deciding stage writes nothing itself. */
export interface DecideContext {
  logger: Logger;
  newId(): string;
}

interface StageBase {
  name: string;
  /** Consumer group (base name). */
  group: ConsumerGroup;
  /** Topics consumed (base names). */
  topics: string[];
  /** Event types the stage acts on; anything else is acknowledged without a database round trip. */
  handles: readonly EventType[];
  /**
   * Optional, per batch, outside any transaction, only for events not processed before. External effects
   * here must be idempotent (a crash before the commit repeats them): an idempotency key per charge.
   */
  prepare?(events: DecodedEvent[], ctx: PrepareContext): Promise<Prepared[]>;
  /**
   * The effect de-duplicates itself (rows with unique keys, inserted ON CONFLICT DO NOTHING) and the
   * stage emits nothing: then no processed-event record is written for its events, and a redelivered
   * event applies again, to no effect. Only for a batch stage whose handler returns no outputs.
   */
  selfDeduplicating?: boolean;
}

/** Writes its effect in the transaction it is given, and returns what to emit after the commit. */
export interface TransactionalStage extends StageBase {
  handle(event: DecodedEvent, ctx: HandlerContext, prepared: unknown): Promise<Output[]>;
}

/**
 * Handles the batch's events (the ones claimed, in order) at once, set-based, in the transaction it is
 * given; one outputs list per event. For a stage whose events meet on shared rows (stock of a popular
 * product): it can lock them once, in a fixed order, for a few statements instead of once per event.
 */
export interface BatchStage extends StageBase {
  /** `prepared` lines up with `events`: what `prepare` returned for each (empty without `prepare`). */
  handleBatch(events: readonly DecodedEvent[], ctx: HandlerContext, prepared: readonly unknown[]): Promise<Output[][]>;
}

/** Its outputs are its whole effect: they are recorded with the processed-event record, then emitted. */
export interface DecidingStage extends StageBase {
  decide(event: DecodedEvent, ctx: DecideContext, prepared: unknown): Promise<Output[]>;
}

export type Stage = TransactionalStage | BatchStage | DecidingStage;

export function isDeciding(stage: Stage): stage is DecidingStage {
  return 'decide' in stage;
}

export function isBatch(stage: Stage): stage is BatchStage {
  return 'handleBatch' in stage;
}

/** A failure worth trying again later (a timeout, a 5xx): the event goes to the stage's retry topic. */
export class RetryableError extends Error {
  override readonly name = 'RetryableError';
  constructor(
    readonly code: WorkerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A handler error that retrying cannot fix (missing order, impossible data): dead-letter at once. */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
  constructor(
    readonly code: WorkerErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function event<K extends EventType>(topic: string, type: K, key: string, payload: EventPayloads[K]): EventOutput<K> {
  return { kind: 'event', topic, type, key, payload };
}
