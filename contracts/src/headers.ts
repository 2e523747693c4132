/**
 * Kafka header names: the wire names every producer and consumer of the platform's topics agree on.
 * Values are strings (UTF-8). Written by the gateway's outbox publisher and the workers' pipeline and
 * routing; read by the workers, the DLQ tooling and the diagnostics.
 */

/** On every event: what it is and which trace it belongs to (W3C trace context). */
export const EventHeaders = {
  eventId: 'event-id',
  eventType: 'event-type',
  traceparent: 'traceparent',
} as const;

/** Added when a failed event is sent to its stage's retry topic. */
export const RetryHeaders = {
  attempt: 'retry-attempt',
  /** Epoch milliseconds before which the retry consumer must not process it. */
  notBefore: 'retry-not-before',
  originalTopic: 'retry-original-topic',
  errorCode: 'retry-error-code',
  errorReason: 'retry-error-reason',
} as const;

/** Added when an event is dead-lettered: why, by which stage, and where it came from. */
export const DeadLetterHeaders = {
  errorCode: 'dlq-error-code',
  errorReason: 'dlq-error-reason',
  stage: 'dlq-stage',
  attempts: 'dlq-attempts',
  originalTopic: 'dlq-original-topic',
  originalPartition: 'dlq-original-partition',
  originalOffset: 'dlq-original-offset',
  /** On a dead letter replayed to its stage's retry topic: where it came from, `topic/partition/offset`. */
  replayedFrom: 'dlq-replayed-from',
  /**
   * On an event an operator re-drove from the pipeline view (POST /api/v1/admin/pipeline/orders/:id/redrive)
   * to the retry topic of the stage it waits on: the administrator's user id. Not a dead letter, but
   * the same kind of mark: it was sent again by hand.
   */
  redrivenBy: 'pipeline-redriven-by',
} as const;

/** The headers that travel with an event to its retry and dead-letter topics. */
export const CARRIED_HEADERS: readonly string[] = [EventHeaders.eventId, EventHeaders.eventType, EventHeaders.traceparent];
