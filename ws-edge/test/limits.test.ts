/**
 * The real ws-edge against the real Redis, bounding what one client may take: unauthenticated sockets
 * per address (429 at the upgrade), malformed frames (4400), frame size (1009), message rate (4429),
 * and connections per user across every edge (4429), including the slots of an edge that died.
 */
import { describe, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { ConnectionSlots } from '@orders/platform';
import { eventually } from '@orders/platform/testing';
import { authFrame, Client, edgePort, edgeSuite, NAMESPACE, SLOT_TTL_MS, spawnEdge, token, wsUrl } from './support';

const s = edgeSuite(2);
/** Where a user's connection slots are (a sorted set of connection ids). */
const slotsKey = (userId: string) => new ConnectionSlots(s.redis, NAMESPACE, 5, SLOT_TTL_MS).key(userId);

describe('ws-edge limits', () => {
  test('bounds the sockets one address holds before they authenticate (429 at the upgrade beyond)', async () => {
    const port = edgePort(3);
    const strict = await spawnEdge(port, { WS_MAX_PENDING_PER_IP: '3', WS_AUTH_TIMEOUT_MS: '5000' });
    const url = wsUrl(port);
    try {
      const waiting = [new Client(url), new Client(url), new Client(url)];
      await Promise.all(waiting.map((c) => c.opened()));
      const refused = await fetch(`http://127.0.0.1:${port}/ws/orders`, {
        headers: {
          upgrade: 'websocket',
          connection: 'upgrade',
          'sec-websocket-version': '13',
          'sec-websocket-key': randomBytes(16).toString('base64'),
        },
      });
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('5');
      // One authenticates: it no longer counts, and another address's worth of room opens for a new one.
      const { token: t } = await token();
      waiting[0]?.ws.send(authFrame(t));
      await waiting[0]?.ready();
      const next = new Client(url, authFrame(t));
      await next.ready();
      // A socket authenticated at the upgrade never counted.
      const byHeader = new Client(url, undefined, { authorization: `Bearer ${t}` });
      await byHeader.ready();
      for (const c of [...waiting, next, byHeader]) c.ws.close();
    } finally {
      strict.kill('SIGKILL');
    }
  });

  test('answers malformed frames with error frames and closes 4400 on repeated abuse', async () => {
    const c = s.client('not json');
    await c.frame(() => true, 'a first frame');
    expect(c.frames[0]).toMatchObject({ type: 'error', code: 'EDGE_BAD_FRAME' });
    for (let i = 0; i < 5; i++) c.ws.send('{"type":"subscribe-to-everything"}');
    await c.closedWith(4400);
  });

  test('closes 1009 on a frame above the size limit', async () => {
    const c = s.client(JSON.stringify({ type: 'auth', token: 'x'.repeat(4000) }));
    await c.closedWith(1009);
  });

  test('a connection sending faster than its message rate gets error frames, then 4429', async () => {
    const u = await token();
    const c = s.client(authFrame(u.token));
    await c.ready();
    for (let i = 0; i < 40; i++) c.ws.send(authFrame(u.token));
    await c.closedWith(4429);
    expect(c.frames.some((f) => f.code === 'RATE_LIMIT_EXCEEDED')).toBe(true);
  });

  test('at most 5 connections per user across every edge; closing one frees its slot', async () => {
    const port2 = edgePort(4);
    const other = await spawnEdge(port2);
    try {
      const u = await token();
      const here = [1, 2, 3].map(() => s.client(authFrame(u.token)));
      const there = [1, 2].map(() => new Client(wsUrl(port2), authFrame(u.token)));
      for (const c of [...here, ...there]) await c.ready();
      const sixth = new Client(wsUrl(port2), authFrame(u.token));
      await sixth.closedWith(4429);
      expect(sixth.closed?.reason).toContain('too many connections');
      here[0]?.ws.close();
      await eventually(async () => (await s.redis.zcard(slotsKey(u.userId))) === 4, { what: 'the closed socket’s slot given back' });
      const replacement = s.client(authFrame(u.token));
      await replacement.ready();
      for (const c of [...here, ...there, replacement]) c.ws.close();
    } finally {
      other.kill('SIGTERM');
      await other.exited;
    }
  });

  test('slots of an edge that died without closing free themselves within the slot TTL', async () => {
    const port3 = edgePort(5);
    const doomed = await spawnEdge(port3);
    const u = await token();
    const lost = [1, 2, 3, 4, 5].map(() => new Client(wsUrl(port3), authFrame(u.token)));
    for (const c of lost) await c.ready();
    doomed.kill('SIGKILL');
    await doomed.exited;
    const tooSoon = s.client(authFrame(u.token));
    await tooSoon.closedWith(4429);
    // Nothing refreshes the dead edge's slots any more: the set expires with the last of them.
    await eventually(async () => (await s.redis.exists(slotsKey(u.userId))) === 0, {
      what: 'the dead edge’s slots to expire',
      timeoutMs: SLOT_TTL_MS + 1_000,
      everyMs: 100,
    });
    const later = s.client(authFrame(u.token));
    await later.ready();
    later.ws.close();
  });
});
