/**
 * The real ws-edge against the real Redis, delivering: a user's updates to that user's sockets only,
 * admins' view of everyone's, a client that stops reading cut off (4408) without holding the others
 * up, and the drain on SIGTERM.
 */
import { describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { sampleStatusUpdate as update } from '@orders/contracts/testing/samples';
import { feedKeys } from '@orders/platform';
import { eventually } from '@orders/platform/testing';
import { authFrame, edgeSuite, metric, NAMESPACE, stalledSocket, token } from './support';

const s = edgeSuite(0);

describe('ws-edge delivery', () => {
  // First: it counts the edge's authenticated sockets, and a fresh edge has no other socket closing meanwhile.
  test('a client that stops reading is closed (4408) once its send buffer passes the bound; others keep flowing', async () => {
    const slow = await token();
    const fast = await token();
    const stalled = await stalledSocket(s.port, slow.token);
    const healthy = s.client(authFrame(fast.token));
    await healthy.ready();
    const before = await metric(s.port, 'orders_ws_slow_consumers_total');
    const held = await metric(s.port, 'orders_ws_connections', 'state="authenticated"');
    const big = { reason: 'x'.repeat(20_000) };
    try {
      // At most 8 MB: the kernel's send buffer (4 MB at most here) and then the edge's 64 KiB bound.
      for (let seq = 1; seq <= 400; seq++) {
        await s.feed.publish({ ...update(slow.userId, seq), ...big });
        if (seq % 20 === 0 && (await metric(s.port, 'orders_ws_slow_consumers_total')) > before) break;
      }
      expect(await metric(s.port, 'orders_ws_slow_consumers_total')).toBe(before + 1);
      expect(await metric(s.port, 'orders_ws_closes_total', 'code="4408"')).toBeGreaterThanOrEqual(1);
      // Let go of within the grace period even though it never takes its close frame.
      await eventually(async () => (await metric(s.port, 'orders_ws_connections', 'state="authenticated"')) === held - 1, {
        what: 'the stalled socket to be let go of',
        everyMs: 100,
      });
      const other = update(fast.userId, 1);
      await s.feed.publish(other);
      await healthy.frame((f) => f.eventId === other.eventId, 'the healthy client’s update');
    } finally {
      stalled.kill();
      healthy.ws.close();
      await s.redis.del(feedKeys(NAMESPACE).recent(slow.userId));
    }
  }, 30_000);

  test('delivers a user’s updates to that user’s sockets only (first-frame or header auth)', async () => {
    const ada = await token();
    const bob = await token();
    const adaA = s.client(authFrame(ada.token));
    const adaB = s.client(undefined, { authorization: `Bearer ${ada.token}` });
    const bobC = s.client(authFrame(bob.token));
    await Promise.all([adaA.ready(), adaB.ready(), bobC.ready()]);
    const u = update(ada.userId, 1);
    expect(await s.feed.publish(u)).toBe(true);
    for (const c of [adaA, adaB]) await c.frame((f) => f.eventId === u.eventId, 'ada’s update on each of her sockets');
    // A window in which Bob's socket must NOT receive Ada's update: a fixed wait is the assertion here.
    await Bun.sleep(150);
    expect(bobC.frames.filter((f) => f.type === 'order.status')).toEqual([]);
    for (const c of [adaA, adaB, bobC]) c.ws.close();
  });

  test('admins receive every user’s updates', async () => {
    const admin = await token(randomUUID(), 60, 'admin');
    const c = s.client(authFrame(admin.token));
    await c.ready();
    const u = update(randomUUID(), 1);
    await s.feed.publish(u);
    await c.frame((f) => f.eventId === u.eventId, 'another user’s update on the admin’s socket');
    c.ws.close();
  });

  test('an admin demoted by a refreshed token stops receiving other users’ updates', async () => {
    const admin = await token(randomUUID(), 60, 'admin');
    const c = s.client(authFrame(admin.token));
    await c.ready();
    const demoted = await token(admin.userId, 60, 'customer');
    c.ws.send(authFrame(demoted.token));
    await eventually(() => c.frames.filter((f) => f.type === 'ready').length === 2, { what: 'the second ready frame' });
    const other = update(randomUUID(), 1);
    await s.feed.publish(other);
    const own = update(admin.userId, 1);
    await s.feed.publish(own);
    // Published after `other` on the same channel: once `own` is here, `other` would have been too.
    await c.frame((f) => f.eventId === own.eventId, 'the demoted admin’s own update');
    expect(c.frames.some((f) => f.eventId === other.eventId)).toBe(false);
    c.ws.close();
  });

  // Last: it stops this suite's edge.
  test('on SIGTERM tells clients to reconnect elsewhere (1012) and exits cleanly', async () => {
    const u = await token();
    const c = s.client(authFrame(u.token));
    await c.ready();
    s.edge.kill('SIGTERM');
    await c.closedWith(1012);
    expect(await s.edge.exited).toBe(0);
  });
});
