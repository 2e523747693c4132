import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContractError, ContractErrorCodes, DeadLetterHeaders, EventHeaders, RetryHeaders } from '@orders/contracts';
import pino from 'pino';
import { WorkerErrorCodes } from '../error-codes';
import { Router } from './routing';
import { PermanentError, RetryableError } from './stage';

function router(maxRetries = 2) {
  const sent: { topic: string; headers: Record<string, string> }[] = [];
  const r = new Router({
    producer: {
      send: async (topic, _key, _value, headers) => void sent.push({ topic, headers }),
      flush: async () => {},
      disconnect: async () => {},
      isConnected: () => true,
    },
    group: 'orders.payment',
    stage: 'payment',
    namespace: 'ns',
    logger: pino({ level: 'silent' }),
    maxRetries,
    retryBaseMs: 100,
    retryMaxMs: 1_000,
    isStopping: () => false,
  });
  return { r, sent };
}

const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const message = {
  topic: 'ns.orders.events',
  partition: 2,
  offset: 41,
  key: Buffer.from('order-1'),
  value: Buffer.from('x'),
  size: 1,
  headers: [{ [EventHeaders.eventType]: 'payment.authorized' }, { [EventHeaders.traceparent]: TRACE }] as Record<string, string>[],
};

/** The capped exponential ceiling for attempt `n` with the router's settings (base 100 ms, cap 1 s). */
const ceilingOf = (attempt: number) => Math.min(1_000, 100 * 2 ** (attempt - 1));

describe('routing failed events', () => {
  it('sends retryable failures to the retry topic until the attempts run out, then to the DLQ', async () => {
    const { r, sent } = router(2);
    const err = new RetryableError(WorkerErrorCodes.paymentProviderError, 'provider answered 503');
    assert.equal(await r.route(message, err, 1), 'retried');
    assert.equal(await r.route(message, err, 2), 'retried');
    assert.equal(await r.route(message, err, 3), 'dead_lettered');
    assert.deepEqual(
      sent.map((s) => s.topic),
      ['ns.orders.payment.retry', 'ns.orders.payment.retry', 'ns.orders.payment.dlq'],
    );
    const first = sent[0]?.headers ?? {};
    assert.equal(first[RetryHeaders.attempt], '1');
    assert.equal(first[RetryHeaders.originalTopic], 'ns.orders.events');
    assert.ok(Number(first[RetryHeaders.notBefore]) > Date.now());
    const dead = sent[2]?.headers ?? {};
    assert.deepEqual(
      [dead[DeadLetterHeaders.stage], dead[DeadLetterHeaders.attempts], dead[DeadLetterHeaders.errorCode]],
      ['payment', '3', WorkerErrorCodes.paymentProviderError],
    );
    for (const s of sent)
      assert.deepEqual(
        [s.headers[EventHeaders.traceparent], s.headers[EventHeaders.eventType]],
        [TRACE, 'payment.authorized'],
        'the trace travels on',
      );
  });

  it('dead-letters permanent failures at once', async () => {
    const { r, sent } = router(5);
    const unknownOrder = new PermanentError(WorkerErrorCodes.inventoryUnknownOrder, 'no such order');
    assert.equal(await r.route(message, unknownOrder, 1), 'dead_lettered');
    assert.equal(await r.route(message, new ContractError(ContractErrorCodes.badMagic, 'not avro'), 1), 'dead_lettered');
    assert.deepEqual(
      sent.map((s) => s.topic),
      ['ns.orders.payment.dlq', 'ns.orders.payment.dlq'],
    );
  });

  it('names a failure that carries no code of its own PIPELINE_HANDLER_FAILED', async () => {
    const { r, sent } = router(0);
    await r.route(message, new Error('boom'), 1);
    assert.equal(sent[0]?.headers[DeadLetterHeaders.errorCode], WorkerErrorCodes.pipelineHandlerFailed);
  });

  it('backs off with equal jitter: between half the capped exponential ceiling and all of it', (t) => {
    const { r } = router();
    // The two ends of the jitter exactly: nothing below half the ceiling, nothing above it.
    const random = t.mock.method(Math, 'random', () => 0);
    for (let attempt = 1; attempt <= 6; attempt++) assert.equal(r.backoffMs(attempt), ceilingOf(attempt) / 2, `attempt ${attempt}, least`);
    random.mock.mockImplementation(() => 1 - Number.EPSILON);
    for (let attempt = 1; attempt <= 6; attempt++) assert.equal(r.backoffMs(attempt), ceilingOf(attempt), `attempt ${attempt}, most`);
    random.mock.restore();
    // And with real randomness, always within those bounds.
    for (let attempt = 1; attempt <= 6; attempt++) {
      for (let i = 0; i < 50; i++) {
        const ms = r.backoffMs(attempt);
        assert.ok(ms >= ceilingOf(attempt) / 2 && ms <= ceilingOf(attempt), `attempt ${attempt}: ${ms}`);
      }
    }
  });
});
