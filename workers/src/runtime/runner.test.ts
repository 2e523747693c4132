/**
 * Unit tests of the consumer loop with a fake librdkafka consumer and a fake pipeline (the real ones are
 * exercised end to end in test/): batches across partitions, order within a partition, a partition never
 * in two batches at once, a failed batch tried again in place before anything behind it is stored, the
 * bound on messages held, and the consumer lag measured from the broker while the stage is stalled.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsumerGroups, Events, Topics } from '@orders/contracts';
import { createLogger, createMetrics } from '@orders/platform';
import { eventually } from '@orders/platform/testing';
import Kafka from 'node-rdkafka';
import { stageMetrics } from './metrics';
import type { Outcome, Pipeline } from './pipeline';
import { StageRunner } from './runner';
import type { TransactionalStage } from './stage';

const stage: TransactionalStage = {
  name: 'test',
  group: ConsumerGroups.projector,
  topics: [Topics.orderEvents],
  handles: [Events.OrderPlaced],
  handle: async () => [],
};

function message(partition: number, offset: number): Kafka.Message {
  return { topic: 'orders.events', partition, offset, value: Buffer.from('x'), size: 1 };
}

/**
 * Hands out the queued messages a consume call at a time, and records what was stored. As a broker for
 * the lag sampler: the partitions assigned, their watermarks and committed offsets (-1001: none), each
 * answered after a few milliseconds, like a round trip.
 */
class FakeConsumer {
  readonly stored: { partition: number; offset: number }[] = [];
  maxAsked = 0;
  assigned: Kafka.TopicPartition[] = [];
  readonly high = new Map<number, number>();
  readonly low = new Map<number, number>();
  readonly committedOffsets = new Map<number, number>();
  watermarkQueries = 0;
  queriesInFlight = 0;
  maxQueriesInFlight = 0;
  rebalance: (err: { code: number }, assignment: Kafka.TopicPartition[]) => void = () => {};
  constructor(private readonly queue: Kafka.Message[]) {}
  setDefaultConsumeTimeout() {}
  subscribe() {}
  on(event: string, listener: (err: { code: number }, assignment: Kafka.TopicPartition[]) => void) {
    if (event === 'rebalance') this.rebalance = listener;
  }
  consume(n: number, cb: (err: Error | null, messages: Kafka.Message[]) => void) {
    this.maxAsked = Math.max(this.maxAsked, n);
    const batch = this.queue.splice(0, n);
    setTimeout(() => cb(null, batch), batch.length === 0 ? 5 : 0);
  }
  offsetsStore(tps: { partition: number; offset: number }[]) {
    this.stored.push(...tps.map(({ partition, offset }) => ({ partition, offset })));
  }
  assignments() {
    return this.assigned;
  }
  queryWatermarkOffsets(_topic: string, partition: number, _timeout: number, cb: (err: Error | null, o: Kafka.WatermarkOffsets) => void) {
    this.watermarkQueries += 1;
    this.queriesInFlight += 1;
    this.maxQueriesInFlight = Math.max(this.maxQueriesInFlight, this.queriesInFlight);
    setTimeout(() => {
      this.queriesInFlight -= 1;
      cb(null, { lowOffset: this.low.get(partition) ?? 0, highOffset: this.high.get(partition) ?? 0 });
    }, 2);
  }
  committed(tps: Kafka.TopicPartition[], _timeout: number, cb: (err: Error | null, offsets: Kafka.TopicPartitionOffset[]) => void) {
    setTimeout(
      () =>
        cb(
          null,
          tps.map((tp) => ({ ...tp, offset: this.committedOffsets.get(tp.partition) ?? -1001 })),
        ),
      2,
    );
  }
  commitSync() {}
  disconnect(cb: () => void) {
    cb();
  }
}

function runner(
  consumer: FakeConsumer,
  run: (messages: Kafka.Message[]) => Promise<Outcome[]>,
  opts: {
    batchSize?: number;
    maxBuffered?: number;
    concurrentBatches?: number;
    metrics?: ReturnType<typeof stageMetrics>;
    lagIntervalMs?: number;
  } = {},
) {
  const pipeline = { run } as unknown as Pipeline;
  return new StageRunner(stage, consumer as unknown as Kafka.KafkaConsumer, pipeline, {
    mode: 'main',
    namespace: '',
    batchSize: opts.batchSize ?? 2,
    maxBuffered: opts.maxBuffered ?? 100,
    concurrentBatches: opts.concurrentBatches ?? 2,
    consumeTimeoutMs: 10,
    logger: createLogger({ service: 'runner-test', level: 'silent' }),
    metrics: opts.metrics ?? stageMetrics(createMetrics('runner-test', { defaultMetrics: false })),
    lagIntervalMs: opts.lagIntervalMs,
  });
}

/** A pipeline run held until the test releases it. */
function gate(): { held: Promise<void>; release: () => void } {
  let release: () => void = () => {};
  const held = new Promise<void>((r) => {
    release = r;
  });
  return { held, release };
}

const stored = (consumer: FakeConsumer, partition: number, offset: number) =>
  consumer.stored.some((s) => s.partition === partition && s.offset === offset);

/** The lag gauge's value per partition (`undefined`: no series). */
async function lagOf(metrics: ReturnType<typeof stageMetrics>): Promise<Record<string, number>> {
  return Object.fromEntries(
    (await metrics.lag.get()).values.map((v) => [`${v.labels.stage} ${v.labels.topic}/${v.labels.partition}`, v.value]),
  );
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

describe('the stage runner', () => {
  it('takes several partitions into one batch, each in order, and stores the offset of each', async () => {
    const consumer = new FakeConsumer([message(0, 0), message(1, 0), message(0, 1), message(2, 0), message(1, 1)]);
    const seen: string[][] = [];
    const { held, release } = gate();
    const r = runner(
      consumer,
      async (ms) => {
        seen.push(ms.map((m) => `${m.partition}:${m.offset}`));
        if (seen.length === 1) await held;
        return ms.map(() => 'handled');
      },
      { batchSize: 10, concurrentBatches: 1 },
    );
    r.start();
    await eventually(() => seen.length === 1, { what: 'the first batch' });
    release();
    await eventually(() => consumer.stored.length >= 3 && stored(consumer, 1, 2), { what: 'the offsets of every partition' });
    await r.stop();
    const all = seen.flat();
    assert.equal(all.length, 5, 'every message in some batch, once');
    for (const p of [0, 1]) {
      const order = all.filter((m) => m.startsWith(`${p}:`));
      assert.deepEqual(order, [`${p}:0`, `${p}:1`], `partition ${p} in offset order`);
    }
    assert.ok(
      seen.some((b) => new Set(b.map((m) => m.split(':')[0])).size > 1),
      `some batch spans partitions: ${JSON.stringify(seen)}`,
    );
    const last = (p: number) => Math.max(...consumer.stored.filter((s) => s.partition === p).map((s) => s.offset));
    assert.deepEqual([last(0), last(1), last(2)], [2, 2, 1]);
  });

  it('never has one partition in two batches at once; other partitions go on beside a slow batch', async () => {
    const consumer = new FakeConsumer([message(0, 0)]);
    const { held, release } = gate();
    const seen: string[] = [];
    const r = runner(
      consumer,
      async (ms) => {
        seen.push(ms.map((m) => `${m.partition}:${m.offset}`).join(','));
        // Partition 0's first batch waits; partition 1 must not wait behind it.
        if (ms[0]?.partition === 0 && ms[0].offset === 0) await held;
        return ms.map(() => 'handled');
      },
      { concurrentBatches: 2 },
    );
    r.start();
    await eventually(() => seen.length === 1, { what: "partition 0's first batch" });
    // Arrive while partition 0's batch is in flight: partition 1 starts beside it, 0:1 waits for it.
    (consumer as unknown as { queue: Kafka.Message[] }).queue.push(message(0, 1), message(1, 0), message(1, 1));
    await eventually(() => stored(consumer, 1, 2), { what: 'partition 1 done beside the slow batch' });
    assert.equal(consumer.stored.filter((s) => s.partition === 0).length, 0, 'partition 0 is still on its first batch');
    assert.ok(!seen.some((b) => b.includes('0:1')), `0:1 waited for 0:0: ${JSON.stringify(seen)}`);
    release();
    await eventually(() => stored(consumer, 0, 2), { what: 'partition 0 done once released' });
    await r.stop();
    const p0 = seen.flatMap((b) => b.split(',')).filter((m) => m.startsWith('0:'));
    assert.deepEqual(p0, ['0:0', '0:1']);
    assert.deepEqual(
      consumer.stored.filter((s) => s.partition === 0).map((s) => s.offset),
      [1, 2],
    );
  });

  it('tries a failed batch again in place; nothing behind it is stored first', async () => {
    const consumer = new FakeConsumer([message(0, 0), message(0, 1), message(0, 2), message(0, 3)]);
    let failures = 1;
    const metrics = stageMetrics(createMetrics('runner-test', { defaultMetrics: false }));
    const r = runner(
      consumer,
      async (ms) => {
        if (ms[0]?.offset === 0 && failures-- > 0) throw new Error('the database is down');
        return ms.map(() => 'handled');
      },
      { metrics },
    );
    r.start();
    await eventually(() => consumer.stored.some((s) => s.offset === 4), { what: 'the batch behind the failed one stored' });
    await r.stop();
    assert.deepEqual(
      consumer.stored.map((s) => s.offset),
      [2, 4],
    );
    // Counted, for the StageBlocked alert.
    assert.deepEqual(
      (await metrics.batchFailures.get()).values.map((v) => [v.labels.stage, v.value]),
      [['test', 1]],
    );
  });

  it('stops fetching while it holds as many messages as it may', async () => {
    const consumer = new FakeConsumer(Array.from({ length: 20 }, (_, i) => message(i % 4, Math.floor(i / 4))));
    let inFlight = 0;
    let peak = 0;
    const { held, release } = gate();
    const r = runner(
      consumer,
      async (ms) => {
        inFlight += ms.length;
        peak = Math.max(peak, inFlight);
        await held;
        inFlight -= ms.length;
        return ms.map(() => 'handled');
      },
      { batchSize: 10, maxBuffered: 6 },
    );
    r.start();
    await eventually(() => inFlight === 6, { what: 'the bound of messages held by the blocked pipeline' });
    // A window on purpose: what is asserted is that nothing more is fetched while the pipeline is blocked.
    await new Promise((res) => setTimeout(res, 100));
    assert.ok(20 - (consumer as unknown as { queue: unknown[] }).queue.length <= 6);
    release();
    await eventually(() => consumer.stored.filter((s) => s.offset === 5).length === 4, { what: 'all 20 messages stored' });
    await r.stop();
    assert.ok(peak <= 6, `at most 6 messages in the pipeline at once, saw ${peak}`);
    assert.ok(consumer.maxAsked <= 6);
  });

  it('measures lag from the broker on a timer, so it keeps growing while every batch fails (a stalled stage)', async () => {
    // Partition 0 committed up to 2, partition 1 never committed (the stage starts at its low watermark, 1).
    const consumer = new FakeConsumer([message(0, 2), message(0, 3), message(1, 1), message(0, 4), message(1, 2)]);
    consumer.assigned = [
      { topic: 'orders.events', partition: 0 },
      { topic: 'orders.events', partition: 1 },
    ];
    consumer.high.set(0, 5).set(1, 3);
    consumer.low.set(1, 1);
    consumer.committedOffsets.set(0, 2);
    const metrics = stageMetrics(createMetrics('runner-test', { defaultMetrics: false }));
    let runs = 0;
    const r = runner(
      consumer,
      async () => {
        runs += 1;
        throw new Error('the payment provider is down');
      },
      { metrics, lagIntervalMs: 20 },
    );
    r.start();
    // Every message is fetched (position 5 and 3), none processed: the lag counts from the committed
    // offset, and from the low watermark where nothing was ever committed.
    await eventually(async () => (await lagOf(metrics))['test orders.events/0'] === 3, { what: 'partition 0 three behind' });
    assert.equal((await lagOf(metrics))['test orders.events/1'], 2);
    // More arrives while the stage is stuck: the gauge follows the broker, no batch needed.
    consumer.high.set(0, 12_005).set(1, 7);
    await eventually(async () => (await lagOf(metrics))['test orders.events/0'] === 12_003, { what: 'the lag grown with the backlog' });
    assert.equal((await lagOf(metrics))['test orders.events/1'], 6);
    assert.ok(runs >= 1, 'batches were tried');
    assert.deepEqual(consumer.stored, [], 'nothing processed');
    assert.equal(consumer.maxQueriesInFlight, 1, 'one round trip at a time, ticks never overlap');
    await r.stop();
    // Stopped: no more round trips, and the runner's series are gone.
    const queries = consumer.watermarkQueries;
    await sleep(80);
    assert.equal(consumer.watermarkQueries, queries);
    assert.deepEqual(await lagOf(metrics), {});
  });

  it('counts lag from the offset it stored once it processes, and drops a revoked partition at once', async () => {
    const consumer = new FakeConsumer([message(0, 0), message(0, 1), message(0, 2), message(1, 0)]);
    consumer.assigned = [
      { topic: 'orders.events', partition: 0 },
      { topic: 'orders.events', partition: 1 },
    ];
    consumer.high.set(0, 10).set(1, 4);
    const metrics = stageMetrics(createMetrics('runner-test', { defaultMetrics: false }));
    const r = runner(consumer, async (ms) => ms.map(() => 'handled'), { metrics, lagIntervalMs: 20, batchSize: 10 });
    r.start();
    await eventually(() => stored(consumer, 0, 3) && stored(consumer, 1, 1), { what: 'both partitions processed' });
    // Nothing was ever committed (the fake does not commit): the offsets stored count, not the low watermark.
    await eventually(
      async () => {
        const lag = await lagOf(metrics);
        return lag['test orders.events/0'] === 7 && lag['test orders.events/1'] === 3;
      },
      { what: 'lag from the stored offsets' },
    );
    // Partition 1 is revoked (the event comes before librdkafka unassigns it).
    const revoked = [{ topic: 'orders.events', partition: 1 }];
    consumer.rebalance({ code: Kafka.CODES.ERRORS.ERR__REVOKE_PARTITIONS }, revoked);
    consumer.assigned = [{ topic: 'orders.events', partition: 0 }];
    assert.deepEqual(await lagOf(metrics), { 'test orders.events/0': 7 });
    await sleep(80);
    assert.deepEqual(await lagOf(metrics), { 'test orders.events/0': 7 }, 'not set again by a later tick');
    await r.stop();
  });
});
