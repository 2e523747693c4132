/**
 * How an event enters the outbox: one row per event, written in the transaction of the change it
 * announces (so an acknowledged change always has its event), carrying the request's trace context as
 * the Kafka headers the publisher will send. Every outbox row the gateway writes is shaped here.
 */
import { EventHeaders } from '@orders/contracts';
import type { Sql } from '@orders/platform';

/** An outbox row as written (`outbox/publisher.ts` reads it back). */
export interface OutboxEntry {
  event_id: string;
  event_type: string;
  aggregate_id: string;
  payload: unknown;
  headers: Record<string, string>;
}

export interface OutboxEvent {
  type: string;
  event: { eventId: string };
  /** The order the event is about: its Kafka key, which keeps one order's events in order. */
  aggregateId: string;
  /** The request's `traceparent`, when there is one. */
  trace: string | undefined;
}

export function outboxEntry({ type, event, aggregateId, trace }: OutboxEvent): OutboxEntry {
  return {
    event_id: event.eventId,
    event_type: type,
    aggregate_id: aggregateId,
    payload: event,
    headers: trace ? { [EventHeaders.traceparent]: trace } : {},
  };
}

/** Writes one event into the outbox, in `tx` (new orders go in batches: `orders/write-batch.ts`). */
export async function insertOutbox(tx: Sql, event: OutboxEvent): Promise<void> {
  const e = outboxEntry(event);
  await tx`
    INSERT INTO outbox (event_id, event_type, aggregate_id, payload, headers)
    VALUES (${e.event_id}, ${e.event_type}, ${e.aggregate_id}, ${tx.json(e.payload as never)}, ${tx.json(e.headers)})`;
}
