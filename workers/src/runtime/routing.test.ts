import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContractError } from '@orders/contracts';
import pino from 'pino';
import { RetryHeaders, Router } from './routing';
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
  headers: [{ 'event-type': 'payment.authorized' }, { traceparent: TRACE }] as Record<string, string>[],
};

describe('routing failed events', () => {
  it('sends retryable failures to the retry topic until the attempts run out, then to the DLQ', async () => {
    const { r, sent } = router(2);
    const err = new RetryableError('PAYMENT_PROVIDER_ERROR', 'provider answered 503');
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
    assert.deepEqual(
      [sent[2]?.headers['dlq-stage'], sent[2]?.headers['dlq-attempts'], sent[2]?.headers['dlq-error-code']],
      ['payment', '3', 'PAYMENT_PROVIDER_ERROR'],
    );
    for (const s of sent)
      assert.deepEqual([s.headers.traceparent, s.headers['event-type']], [TRACE, 'payment.authorized'], 'the trace travels on');
  });

  it('dead-letters permanent failures at once', async () => {
    const { r, sent } = router(5);
    assert.equal(await r.route(message, new PermanentError('INVENTORY_UNKNOWN_ORDER', 'no such order'), 1), 'dead_lettered');
    assert.equal(await r.route(message, new ContractError('CONTRACTS_BAD_MAGIC_BYTE', 'not avro'), 1), 'dead_lettered');
    assert.deepEqual(
      sent.map((s) => s.topic),
      ['ns.orders.payment.dlq', 'ns.orders.payment.dlq'],
    );
  });

  it('backs off exponentially with jitter, within the cap', () => {
    const { r } = router();
    for (let attempt = 1; attempt <= 6; attempt++) {
      const ceiling = Math.min(1_000, 100 * 2 ** (attempt - 1));
      for (let i = 0; i < 50; i++) {
        const ms = r.backoffMs(attempt);
        assert.ok(ms >= ceiling / 2 && ms <= ceiling, `attempt ${attempt}: ${ms}`);
      }
    }
  });
});
