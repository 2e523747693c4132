/**
 * The real ws-edge against the real Redis, authenticating: tokens in the first frame or the upgrade's
 * header, the time allowed to authenticate, token expiry and refresh, a socket staying with one user,
 * sessions ended elsewhere, and authentications of one socket admitted once and in order.
 */
import { describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { ACCESS_TOKEN_TTL_SECONDS, createLogger, createSigner, RevokedSessions, revocationKeys } from '@orders/platform';
import { eventually } from '@orders/platform/testing';
import { authFrame, edgeSuite, jwt, metric, NAMESPACE, signingKey, token } from './support';

const s = edgeSuite(1);

describe('ws-edge authentication', () => {
  // First: it compares the edge's connection gauges before and after, so no other socket may be closing meanwhile.
  test('two auth frames sent at once authenticate the socket once (connections gauge stays true)', async () => {
    const gauge = async () => ({
      authenticated: await metric(s.port, 'orders_ws_connections', 'state="authenticated"'),
      pending: await metric(s.port, 'orders_ws_connections', 'state="pending"'),
    });
    const before = await gauge();
    const u = await token();
    const twice = s.client();
    await twice.opened();
    twice.ws.send(authFrame(u.token));
    twice.ws.send(authFrame(u.token));
    await eventually(() => twice.frames.filter((f) => f.type === 'ready').length === 2, { what: 'two ready frames' });
    expect(await gauge()).toEqual({ authenticated: before.authenticated + 1, pending: before.pending });
    twice.ws.close();
    await eventually(async () => Bun.deepEquals(await gauge(), before), { what: 'the gauges back where they were after the close' });
  });

  test('closes 4401 when no token comes in time, or the token is not valid', async () => {
    await s.client().closedWith(4401);
    const { token: t } = await token();
    await s.client(authFrame(`${t}x`)).closedWith(4401);
    const bad = await fetch(`http://127.0.0.1:${s.port}/ws/orders`, { headers: { authorization: 'Bearer a.b.c', upgrade: 'websocket' } });
    expect(bad.status).toBe(401);
  });

  test('a session ended elsewhere (logout) closes its sockets at once and refuses its token', async () => {
    const sessions = new RevokedSessions({
      redis: s.redis,
      subscriber: { url: process.env.REDIS_URL as string, connectionName: 'edge-test-sessions' },
      keys: revocationKeys(NAMESPACE),
      rememberMs: 60_000,
      logger: createLogger({ service: 'edge-test', level: 'silent' }),
    });
    const sessionId = randomUUID();
    const sign = await createSigner({ ...jwt, ttlSeconds: ACCESS_TOKEN_TTL_SECONDS }, signingKey);
    const userId = randomUUID();
    const { token: inSession } = await sign({ userId, role: 'customer', tier: 'standard', sessionId });
    const { token: otherSession } = await sign({ userId, role: 'customer', tier: 'standard', sessionId: randomUUID() });
    const a = s.client(authFrame(inSession));
    const b = s.client(authFrame(otherSession));
    await a.ready();
    await b.ready();
    await sessions.revoke(sessionId);
    await a.closedWith(4401);
    expect(a.closed?.reason).toContain('session ended');
    await s.client(authFrame(inSession)).closedWith(4401);
    expect(b.closed).toBeUndefined();
    b.ws.close();
  });

  test('closes 4401 when the token expires, unless the client refreshes it; a socket stays with one user', async () => {
    const short = await token(randomUUID(), 1);
    const c = s.client(authFrame(short.token));
    await c.ready();
    await c.closedWith(4401, 4_000);
    expect(c.closed?.reason).toBe('token expired');

    const user = await token(randomUUID(), 1);
    const refreshed = s.client(authFrame(user.token));
    await refreshed.ready();
    const longer = await token(user.userId, 60);
    refreshed.ws.send(authFrame(longer.token));
    // Past the first token's expiry (1 s): the socket must NOT be closed. A fixed window is the assertion here.
    await Bun.sleep(1_800);
    expect(refreshed.closed).toBeUndefined();
    refreshed.ws.send(authFrame((await token()).token));
    await refreshed.closedWith(4403);
  });

  test('a bad token right behind a good one closes that socket, never the edge', async () => {
    const u = await token();
    const c = s.client();
    await c.opened();
    // Sent together: the bad token's verification fails while the good one is still being admitted.
    c.ws.send(authFrame(u.token));
    c.ws.send(authFrame('x'));
    await c.closedWith(4401);
    // The edge must NOT exit (an unhandled rejection would stop it): a fixed window is the assertion here.
    await Bun.sleep(300);
    expect(s.edge.exitCode).toBeNull();
    const next = s.client(authFrame((await token()).token));
    await next.ready();
    next.ws.close();
  });
});
