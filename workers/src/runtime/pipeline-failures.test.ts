/**
 * Unit tests of how the pipeline treats a failure: an outage of a dependency (the database, the payment
 * provider's connections) fails the run so the runner tries the batch again in place; anything else is
 * routed to the retry or dead-letter topic as before; a second copy of a failed event in the same batch
 * claims nothing. (The fault-injection suite covers the real thing.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsumerGroups, type DecodedEvent, type EventCodec, Events, Topics } from '@orders/contracts';
import { createLogger, type Sql, type StatusFeedPublisher } from '@orders/platform';
import type Kafka from 'node-rdkafka';
import { WorkerErrorCodes } from '../error-codes';
import type { DeliveringProducer } from './kafka';
import { Pipeline } from './pipeline';
import type { Router } from './routing';
import { type DecidingStage, RetryableError } from './stage';

/** A pipeline for `stage` whose events decode to the given ids in turn (a fake codec, no producer or feed). */
function pipelineOf(stage: DecidingStage, ids: string[], router: Router, sql = {} as Sql): Pipeline {
  let k = 0;
  const codec = {
    decode: async () => ({ type: Events.OrderValidated, payload: { eventId: ids[k++ % ids.length] } }) as unknown as DecodedEvent,
  } as unknown as EventCodec;
  return new Pipeline(
    stage,
    {
      sql,
      codec,
      producer: {} as DeliveringProducer,
      feed: {} as StatusFeedPublisher,
      logger: createLogger({ service: 'pipeline-test', level: 'silent' }),
      namespace: '',
      isStopping: () => false,
    },
    router,
  );
}

const messagesOf = (n: number): Kafka.Message[] =>
  Array.from({ length: n }, (_, i) => ({ topic: 'orders.events', partition: 0, offset: 1 + i, value: Buffer.from('x'), size: 1 }));

function pipelineFailingWith(error: unknown, opts: { copies?: number } = {}) {
  const routed: unknown[] = [];
  const decided: unknown[] = [];
  const stage: DecidingStage = {
    name: 'test',
    group: ConsumerGroups.payment,
    topics: [Topics.orderEvents],
    handles: [Events.OrderValidated],
    // The first copy fails; a later copy of the same event would be ready to go.
    prepare: async (events) => events.map((_, n) => (n === 0 ? { ok: false as const, error } : { ok: true as const, value: 'skip' })),
    decide: async (e) => {
      decided.push(e);
      return [];
    },
  };
  const router = {
    route: async (_m: Kafka.Message, err: unknown) => {
      routed.push(err);
      return 'retried';
    },
  } as unknown as Router;
  // Every copy is the same event.
  const pipeline = pipelineOf(stage, ['0190f0f0-0000-7000-8000-000000000001'], router);
  return { run: () => pipeline.run(messagesOf(opts.copies ?? 1), 1), routed, decided };
}

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('a failed event', () => {
  it('is tried again in place when the database cannot be reached (no retry spent)', async () => {
    const { run, routed } = pipelineFailingWith(withCode('write CONNECTION_CLOSED 127.0.0.1:5432', 'CONNECTION_CLOSED'));
    await assert.rejects(run(), /CONNECTION_CLOSED/);
    assert.equal(routed.length, 0);
  });

  it('is tried again in place when the payment provider refuses connections', async () => {
    const cause = withCode('connect ECONNREFUSED 127.0.0.1:8070', 'ECONNREFUSED');
    const err = new RetryableError(WorkerErrorCodes.paymentProviderUnreachable, 'payment provider did not answer', { cause });
    const { run, routed } = pipelineFailingWith(err);
    await assert.rejects(run(), /did not answer/);
    assert.equal(routed.length, 0);
  });

  it('goes to the retry topic for anything about the event itself (a provider 5xx, a timeout)', async () => {
    for (const err of [
      new RetryableError(WorkerErrorCodes.paymentProviderError, 'payment provider answered 503'),
      new RetryableError(WorkerErrorCodes.paymentProviderUnreachable, 'payment provider did not answer', { cause: new Error('timed out') }),
    ]) {
      const { run, routed } = pipelineFailingWith(err);
      assert.deepEqual(await run(), ['retried']);
      assert.deepEqual(routed, [err]);
    }
  });

  it('is not claimed by a second copy of it in the same batch (the retry must not find it done)', async () => {
    const err = new RetryableError(WorkerErrorCodes.paymentProviderError, 'payment provider answered 503');
    const { run, routed, decided } = pipelineFailingWith(err, { copies: 2 });
    assert.deepEqual(await run(), ['retried', 'duplicate']);
    assert.deepEqual(routed, [err]);
    assert.equal(decided.length, 0);
  });

  it('stops a batch at an outage: no later event is written ahead of an earlier one', async () => {
    const ids = ['0190f0f0-0000-7000-8000-00000000000a', '0190f0f0-0000-7000-8000-00000000000b'];
    let n = 0;
    const outage = () => Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' });
    // The batch INSERT and the first event's fail (the database is going away); the second's would succeed.
    const sql = Object.assign(
      async () => {
        n++;
        if (n <= 2) throw outage();
        return [{ event_id: ids[1] }];
      },
      { json: (x: unknown) => x },
    ) as unknown as Sql;
    const stage: DecidingStage = {
      name: 'test',
      group: ConsumerGroups.projector,
      topics: [Topics.orderEvents],
      handles: [Events.OrderValidated],
      decide: async () => [],
    };
    const pipeline = pipelineOf(stage, ids, { route: async () => 'retried' } as unknown as Router, sql);
    await assert.rejects(pipeline.run(messagesOf(2), 1), /CONNECTION_CLOSED/);
    assert.equal(n, 1, 'nothing is written one by one after the batch failed for an outage');
  });
});
