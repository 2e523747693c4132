/**
 * The real ws-edge against the real Redis, recovering: `ready` carries the user's latest sequence,
 * `resume` replays what a client missed (or says `resync`), across an edge restart, a dropped Redis
 * subscription, and on a Redis Cluster.
 */
import { describe, expect, test } from 'bun:test';
import { sampleStatusUpdate as update } from '@orders/contracts/testing/samples';
import { ACCESS_TOKEN_TTL_SECONDS, createRedisClient, feedKeys, StatusFeedPublisher } from '@orders/platform';
import { eventually } from '@orders/platform/testing';
import { authFrame, Client, edgePort, edgeSuite, NAMESPACE, resumeFrame, spawnEdge, statusFrames, token, wsUrl } from './support';

const s = edgeSuite(6);

describe('ws-edge recovery', () => {
  test('ready carries the user’s latest sequence; resume replays what a client missed, or says resync', async () => {
    const u = await token();
    for (let seq = 1; seq <= 3; seq++) await s.feed.publish(update(u.userId, seq));
    const first = s.client(authFrame(u.token));
    await first.ready();
    expect(first.frames.find((f) => f.type === 'ready')?.seq).toBe(3);
    const expiresIn = Number(first.frames.find((f) => f.type === 'ready')?.expiresIn);
    expect(expiresIn).toBeGreaterThan(ACCESS_TOKEN_TTL_SECONDS - 30);
    expect(expiresIn).toBeLessThanOrEqual(ACCESS_TOKEN_TTL_SECONDS);
    const live = update(u.userId, 4);
    await s.feed.publish(live);
    await first.frame((f) => f.type === 'order.status' && f.seq === 4, 'the live update (seq 4)');
    first.ws.close();
    await eventually(() => first.closed, { what: 'the first socket to close' });

    // Missed while away: 5 and 6. The resume goes right behind the auth frame.
    const missed = [update(u.userId, 5), update(u.userId, 6)];
    for (const m of missed) await s.feed.publish(m);
    const back = s.client();
    await back.opened();
    back.ws.send(authFrame(u.token));
    back.ws.send(resumeFrame(4));
    const resumed = await back.frame((f) => f.type === 'resumed', 'the resumed frame');
    expect(statusFrames(back).map((f) => f.eventId)).toEqual(missed.map((m) => m.eventId));
    expect(resumed).toEqual({ type: 'resumed', after: 4, seq: 6, count: 2 });

    // A client ahead of what Redis holds (or whose updates were trimmed) is told to re-read.
    back.ws.send(resumeFrame(40));
    expect(await back.frame((f) => f.type === 'resync', 'the resync frame')).toEqual({ type: 'resync', reason: 'gap' });
    back.ws.close();

    // Resuming before authenticating is an error, not a leak.
    const stranger = s.client(resumeFrame(0));
    await stranger.frame(() => true, 'a first frame');
    expect(stranger.frames[0]).toMatchObject({ type: 'error', code: 'EDGE_NOT_AUTHENTICATED' });
    expect(statusFrames(stranger)).toEqual([]);
    stranger.ws.close();
  });

  test('recovers what was published while the edge restarted', async () => {
    const port = edgePort(7);
    let restarting = await spawnEdge(port);
    const u = await token();
    await s.feed.publish(update(u.userId, 1));
    const url = wsUrl(port);
    const c = new Client(url, authFrame(u.token));
    await c.ready();
    restarting.kill('SIGTERM');
    await c.closedWith(1012);
    await restarting.exited;
    const missed = [update(u.userId, 2), update(u.userId, 3)];
    for (const m of missed) await s.feed.publish(m);
    restarting = await spawnEdge(port);
    try {
      const again = new Client(url, undefined, { authorization: `Bearer ${u.token}` });
      await again.ready();
      again.ws.send(resumeFrame(1));
      await again.frame((f) => f.type === 'resumed', 'the resumed frame');
      expect(statusFrames(again).map((f) => f.eventId)).toEqual(missed.map((m) => m.eventId));
      again.ws.close();
    } finally {
      restarting.kill('SIGTERM');
      await restarting.exited;
    }
  });

  test('when the edge’s Redis subscription drops, its clients are asked to resume and miss nothing', async () => {
    const u = await token();
    await s.feed.publish(update(u.userId, 1));
    const c = s.client(authFrame(u.token));
    await c.ready();
    await s.redis.client('KILL', 'TYPE', 'pubsub');
    const meanwhile = update(u.userId, 2);
    await s.feed.publish(meanwhile);
    await c.frame((f) => f.type === 'resume-needed', 'the resume-needed frame');
    c.ws.send(resumeFrame(1));
    await c.frame((f) => f.type === 'resumed', 'the resumed frame');
    expect(statusFrames(c).some((f) => f.eventId === meanwhile.eventId)).toBe(true);
    c.ws.close();
  });

  test('on a Redis Cluster: delivery, connection slots and resume work the same', async () => {
    const nodes = (process.env.TEST_REDIS_CLUSTER_NODES ?? '').split(',').filter(Boolean);
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    const port = edgePort(8);
    const onCluster = await spawnEdge(port, { REDIS_CLUSTER_NODES: nodes.join(',') });
    const cluster = createRedisClient({ url: process.env.REDIS_URL as string, clusterNodes: nodes, connectionName: 'edge-test-cluster' });
    try {
      const clusterFeed = new StatusFeedPublisher(cluster, feedKeys(NAMESPACE));
      const url = wsUrl(port);
      const users = await Promise.all(Array.from({ length: 6 }, () => token()));
      const clients = users.map((u) => new Client(url, authFrame(u.token)));
      for (const c of clients) await c.ready();
      const updates = users.map((u) => update(u.userId, 1));
      for (const u of updates) await clusterFeed.publish(u);
      for (const [n, c] of clients.entries())
        await c.frame((f) => f.type === 'order.status' && f.eventId === updates[n]?.eventId, `user ${n}’s update`);
      // Away, then back: what was missed comes from the user's sorted set on whichever master holds it.
      const first = clients[0] as Client;
      first.ws.close();
      const missed = [update(users[0]?.userId as string, 2), update(users[0]?.userId as string, 3)];
      for (const m of missed) await clusterFeed.publish(m);
      const back = new Client(url, authFrame(users[0]?.token as string));
      await back.ready();
      back.ws.send(resumeFrame(1));
      await back.frame((f) => f.type === 'resumed', 'the resumed frame');
      expect(statusFrames(back).map((f) => f.eventId)).toEqual(missed.map((m) => m.eventId));
      for (const c of [...clients, back]) c.ws.close();
    } finally {
      cluster.disconnect();
      onCluster.kill('SIGTERM');
      await onCluster.exited;
    }
  });
});
