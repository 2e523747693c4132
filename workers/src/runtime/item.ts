/**
 * One message on its way through a pipeline run: the event it decoded to, what `prepare` made of it,
 * what became of it (its outcome) and what it emits. The pipeline and its writer fill it in as they go.
 */
import type { DecodedEvent } from '@orders/contracts';
import type { Span } from '@orders/platform';
import type Kafka from 'node-rdkafka';
import type { Output } from './stage';

export type Outcome = 'handled' | 'duplicate' | 'skipped' | 'retried' | 'dead_lettered' | 'abandoned';

export interface Item {
  message: Kafka.Message;
  event?: DecodedEvent;
  outcome?: Outcome;
  outputs?: Output[];
  error?: unknown;
  prepared?: unknown;
  /** The stage's span for this event (spans.ts); its context is what the event's outputs carry. */
  span?: Span;
}
