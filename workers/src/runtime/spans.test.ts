/** A stage's spans: one per event it works on, a child of the event's context, handing its own on. */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { type DecodedEvent, EventHeaders } from '@orders/contracts';
import { installTracer, offTracer, parseTraceparent } from '@orders/platform';
import { recordingTracer } from '@orders/platform/tracing/testing';
import type Kafka from 'node-rdkafka';
import type { Item } from './item';
import { endStageSpans, startStageSpans } from './spans';

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function item(outcome?: Item['outcome'], traceparent = PARENT): Item {
  const message = {
    topic: 'ns.orders.events',
    partition: 0,
    offset: 7,
    key: Buffer.from('order-1'),
    value: Buffer.from('x'),
    size: 1,
    headers: [{ [EventHeaders.traceparent]: traceparent }],
  } as unknown as Kafka.Message;
  const event = {
    type: 'order.placed',
    schemaId: 1,
    traceparent,
    payload: { eventId: 'e-1', orderId: 'order-1', userId: 'u-1', occurredAt: 0 },
  } as unknown as DecodedEvent;
  return { message, event, outcome };
}

afterEach(() => {
  installTracer(offTracer);
});

describe('stage spans', () => {
  it('off: the event carries a new hop of its trace, nothing is recorded, skipped events get nothing', () => {
    const [worked, skipped] = [item(), item('skipped')];
    startStageSpans('validator', [worked, skipped], 1);
    const own = parseTraceparent(worked.event?.traceparent);
    assert.equal(own?.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.notEqual(own?.spanId, '00f067aa0ba902b7');
    assert.equal(worked.span?.recording, false);
    assert.equal(skipped.span, undefined);
    assert.equal(skipped.event?.traceparent, PARENT);
  });

  it('on: a consumer span under the event’s parent, its context on the event, the outcome at the end', async () => {
    const { tracer, finished } = await recordingTracer();
    installTracer(tracer);
    const [handled, failed] = [item(), item()];
    startStageSpans('payment', [handled, failed], 2);
    handled.outcome = 'handled';
    failed.outcome = 'dead_lettered';
    failed.error = new Error('card declined');
    endStageSpans([handled, failed]);
    const spans = await finished();
    assert.equal(spans.length, 2);
    const [h, f] = spans;
    assert.equal(h?.name, 'payment order.placed');
    assert.equal(h?.kind, 4, 'consumer');
    assert.equal(h?.parentSpanId, '00f067aa0ba902b7');
    assert.equal(handled.event?.traceparent, `00-${h?.traceId}-${h?.spanId}-01`);
    assert.deepEqual(
      { stage: h?.attributes['orders.stage'], order: h?.attributes['orders.order.id'], attempt: h?.attributes['orders.attempt'] },
      { stage: 'payment', order: 'order-1', attempt: 2 },
    );
    assert.equal(h?.attributes['orders.outcome'], 'handled');
    assert.equal(h?.status, 0);
    assert.equal(f?.attributes['orders.outcome'], 'dead_lettered');
    assert.equal(f?.status, 2, 'error');
  });

  it('on: a run that fails as a whole ends its spans as interrupted', async () => {
    const { tracer, finished } = await recordingTracer();
    installTracer(tracer);
    const i = item();
    startStageSpans('inventory', [i], 1);
    endStageSpans([i], new Error('database down'));
    const [span] = await finished();
    assert.equal(span?.attributes['orders.outcome'], 'interrupted');
    assert.equal(span?.status, 2);
  });

  it('on: an unsampled event stays unsampled and unrecorded', async () => {
    const { tracer, finished } = await recordingTracer();
    installTracer(tracer);
    const i = item(undefined, PARENT.replace(/-01$/, '-00'));
    startStageSpans('inventory', [i], 1);
    endStageSpans([i]);
    assert.equal(parseTraceparent(i.event?.traceparent)?.flags, '00');
    assert.equal((await finished()).length, 0);
  });
});
