/** The status feed against the real Redis of the local stack (REDIS_URL). */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { StatusUpdate } from '@orders/contracts';
import { sampleStatusUpdate } from '@orders/contracts/testing/samples';
import { createRedis, createRedisClient } from '../src/clients/redis';
import { type FeedKeys, feedKeys, latestSeq, parseStatusUpdate, readSince, StatusFeedPublisher } from '../src/status-feed/index';
import { eventually } from '../src/testing';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const update = sampleStatusUpdate;

describe('status feed on real Redis', () => {
  const redis = createRedis({ url, connectionName: 'test-feed' });
  const sub = createRedis({ url, connectionName: 'test-feed-sub' });
  let keys: FeedKeys;
  let publisher: StatusFeedPublisher;
  const received: StatusUpdate[] = [];

  before(async () => {
    keys = feedKeys(`t${randomUUID().slice(0, 8)}`);
    publisher = new StatusFeedPublisher(redis, keys);
    await sub.subscribe(keys.channel);
    sub.on('message', (_channel, text) => {
      const u = parseStatusUpdate(text);
      if (u) received.push(u);
    });
  });

  after(async () => {
    await Promise.all([redis.quit(), sub.quit()]);
  });

  it('publishes to subscribers and keeps the update for recovery', async () => {
    const user = randomUUID();
    const u1 = update(user, 1);
    assert.equal(await publisher.publish(u1), true);
    await eventually(() => received.some((r) => r.eventId === u1.eventId), { what: 'the subscriber to get the update', timeoutMs: 2_000 });
    const since = await readSince(redis, keys, user, 0);
    assert.deepEqual(since, { ok: true, updates: [u1] });
    assert.ok((await redis.ttl(keys.recent(user))) > 0, 'idle feeds expire');
  });

  it('does not publish the same sequence twice (a redelivered event)', async () => {
    const user = randomUUID();
    const first = update(user, 1);
    assert.equal(await publisher.publish(first), true);
    assert.equal(await publisher.publish({ ...first, eventId: 'again' }), false);
    // A fixed wait on purpose: what is checked is that no second message arrives within it.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(received.filter((r) => r.userId === user).length, 1);
  });

  it('returns only what came after the client’s last sequence, in order', async () => {
    const user = randomUUID();
    for (let seq = 1; seq <= 5; seq++) await publisher.publish(update(user, seq));
    const since = await readSince(redis, keys, user, 2);
    assert.ok(since.ok);
    assert.deepEqual(
      since.updates.map((u) => u.seq),
      [3, 4, 5],
    );
    assert.deepEqual(await readSince(redis, keys, user, 5), { ok: true, updates: [] });
  });

  it('reports a gap when the stream no longer holds the next update', async () => {
    const user = randomUUID();
    for (let seq = 1; seq <= 3; seq++) await publisher.publish(update(user, seq));
    await redis.zremrangebyrank(keys.recent(user), 0, 1);
    assert.deepEqual(await readSince(redis, keys, user, 0), { ok: false, reason: 'gap' });
    await redis.del(keys.recent(user));
    assert.deepEqual(await readSince(redis, keys, user, 1, 3), { ok: false, reason: 'gap' });
  });

  it('reports a gap when the feed expired or was lost with Redis, and knows the latest sequence', async () => {
    const user = randomUUID();
    assert.equal(await latestSeq(redis, keys, user), 0);
    for (let seq = 1; seq <= 3; seq++) await publisher.publish(update(user, seq));
    assert.equal(await latestSeq(redis, keys, user), 3);
    assert.deepEqual(await readSince(redis, keys, user, 3), { ok: true, updates: [] }, 'up to date');
    assert.deepEqual(await readSince(redis, keys, user, 7), { ok: false, reason: 'gap' }, 'the client is ahead of Redis');
    await redis.del(keys.recent(user));
    assert.deepEqual(await readSince(redis, keys, user, 3), { ok: false, reason: 'gap' }, 'nothing left to prove it');
    assert.deepEqual(await readSince(redis, keys, user, 0), { ok: false, reason: 'gap' }, 'no feed at all: lost, or never any');
  });

  it('stores and publishes a lower sequence that arrives late, and recovery reads in sequence order', async () => {
    const user = randomUUID();
    const [u1, u2, u3] = [update(user, 1), update(user, 2), update(user, 3)];
    assert.equal(await publisher.publish(u1), true);
    assert.equal(await publisher.publish(u3), true);
    assert.deepEqual(await readSince(redis, keys, user, 1), { ok: false, reason: 'gap' }, 'seq 2 still on its way');
    assert.equal(await publisher.publish(u2), true);
    await eventually(() => received.some((r) => r.eventId === u2.eventId), {
      what: 'the late update to be published too',
      timeoutMs: 2_000,
    });
    assert.deepEqual(await readSince(redis, keys, user, 0), { ok: true, updates: [u1, u2, u3] });
  });

  it('survives a script cache flush (EVALSHA falls back to EVAL)', async () => {
    await redis.script('FLUSH');
    assert.equal(await publisher.publish(update(randomUUID(), 1)), true);
  });
});

describe('status feed on a real Redis Cluster (TEST_REDIS_CLUSTER_NODES)', () => {
  const nodes = (process.env.TEST_REDIS_CLUSTER_NODES ?? '').split(',').filter(Boolean);
  it('stores, publishes cluster-wide and recovers per user, whatever slot the user lands in', async () => {
    assert.ok(nodes.length >= 3, 'npm test starts a 3-master Cluster for this suite');
    const cluster = createRedisClient({ url: url, clusterNodes: nodes, connectionName: 'test-feed-cluster' });
    const sub = createRedisClient({ url: url, clusterNodes: nodes, connectionName: 'test-feed-cluster-sub', commandTimeoutMs: 0 });
    try {
      const keys = feedKeys(`c${randomUUID().slice(0, 8)}`);
      const got: StatusUpdate[] = [];
      sub.on('message', (_c: string, text: string) => {
        const u = parseStatusUpdate(text);
        if (u) got.push(u);
      });
      await sub.subscribe(keys.channel);
      const publisher = new StatusFeedPublisher(cluster, keys);
      // Enough users that their hash-tagged keys spread over all three masters.
      const users = Array.from({ length: 12 }, () => randomUUID());
      for (const u of users) for (let seq = 1; seq <= 3; seq++) assert.equal(await publisher.publish(update(u, seq)), true);
      await eventually(() => got.length >= users.length * 3, { what: 'every update to reach the one subscription' });
      assert.equal(got.length, users.length * 3, 'every update reached the one subscription, once');
      for (const u of users) {
        assert.equal(await latestSeq(cluster, keys, u), 3);
        const since = await readSince(cluster, keys, u, 1);
        assert.ok(since.ok);
        assert.deepEqual(
          since.updates.map((x) => x.seq),
          [2, 3],
        );
      }
    } finally {
      cluster.disconnect();
      sub.disconnect();
    }
  });
});
