/**
 * A stage's span for each event it works on (platform/src/tracing): a consumer span, the child of the
 * `traceparent` the event arrived with, from decode to the end of its run (effect committed, outputs
 * emitted, or the failure routed), with the stage, event type, order id and outcome. Its context is the
 * hop's: it goes on as the `traceparent` of everything the event causes, the outputs the runtime emits
 * and what a stage derives from `event.traceparent` (the webhook fan-out's messages), so their spans are
 * its children.
 *
 * With tracing off each event gets an off span: no attributes are built, and its context is the parent's
 * trace with a new span id, as `childTraceparent` always gave each hop. Events a stage does not handle get
 * no span at all.
 */
import { EventHeaders } from '@orders/contracts';
import { Attr, OffSpan, processTracer, type Span } from '@orders/platform';
import { header } from './headers';
import type { Item } from './item';

/** Starts the spans of a run's items that the stage works on, and makes each one's event carry its context. */
export function startStageSpans(stage: string, items: Item[], attempt: number): void {
  const tracer = processTracer();
  for (const i of items) {
    if (i.outcome === 'skipped') continue;
    const parent = i.event ? i.event.traceparent : header(i.message, EventHeaders.traceparent);
    let span: Span;
    if (!tracer.enabled) span = new OffSpan(parent);
    else {
      const type = i.event?.type ?? header(i.message, EventHeaders.eventType) ?? 'unknown';
      span = tracer.start(`${stage} ${type}`, 'consumer', parent, {
        [Attr.stage]: stage,
        [Attr.eventType]: type,
        [Attr.orderId]: i.event?.payload.orderId,
        [Attr.messagingMessageId]: i.event?.payload.eventId,
        [Attr.messagingSystem]: 'kafka',
        [Attr.messagingOperation]: 'process',
        [Attr.messagingDestination]: i.message.topic,
        [Attr.attempt]: attempt,
      });
    }
    i.span = span;
    if (i.event) i.event.traceparent = span.traceparent;
  }
}

/**
 * Ends a run's spans with each event's outcome; `err`: the run failed as a whole (a dependency is down)
 * and will be tried again in place, under new spans.
 */
export function endStageSpans(items: Item[], err?: unknown): void {
  for (const i of items) {
    const span = i.span;
    if (!span) continue;
    if (span.recording) {
      span.set({ [Attr.outcome]: err === undefined ? (i.outcome ?? 'skipped') : 'interrupted' });
      const failure = err ?? i.error;
      if (failure !== undefined) span.fail(failure);
    }
    span.end();
  }
}
