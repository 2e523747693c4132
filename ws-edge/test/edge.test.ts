/**
 * The real ws-edge process against the real Redis: authentication, ownership, abuse handling, token
 * expiry, and the drain on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sampleStatusUpdate } from '@orders/contracts/testing/samples';
import { ACCESS_TOKEN_TTL_SECONDS, createRedis, createSigner, feedKeys, parseSigningKey, StatusFeedPublisher } from '@orders/platform';
import type { Subprocess } from 'bun';

const PORT = 18_190 + Math.floor(Math.random() * 100);
const URL_WS = `ws://127.0.0.1:${PORT}/ws/orders`;
const NAMESPACE = `edge${randomUUID().slice(0, 6)}`;
const jwt = { issuer: 'order-platform', audience: 'order-platform-api' };
const signingKey = parseSigningKey(readFileSync(process.env.JWT_SIGNING_KEY_FILE as string, 'utf8'));
const redis = createRedis({ url: process.env.REDIS_URL as string, connectionName: 'edge-test' });
const feed = new StatusFeedPublisher(redis, feedKeys(NAMESPACE));
let edge: Subprocess;
let output = '';

async function token(userId = randomUUID(), ttlSeconds = ACCESS_TOKEN_TTL_SECONDS, role: 'customer' | 'admin' = 'customer') {
  const sign = await createSigner({ ...jwt, ttlSeconds }, signingKey);
  return { userId, token: (await sign({ userId, role, tier: 'standard' })).token };
}

const update = sampleStatusUpdate;

class Client {
  frames: Record<string, unknown>[] = [];
  closed: { code: number; reason: string } | undefined;
  ws: WebSocket;
  constructor(auth?: string, headers?: Record<string, string>, url = URL_WS) {
    this.ws = new WebSocket(url, headers ? ({ headers } as unknown as string[]) : undefined);
    this.ws.onopen = () => auth !== undefined && this.ws.send(auth);
    this.ws.onmessage = (e) => this.frames.push(JSON.parse(String(e.data)));
    this.ws.onclose = (e) => {
      this.closed = { code: e.code, reason: e.reason };
    };
  }
  async until(pred: () => boolean, ms = 5_000) {
    const end = Date.now() + ms;
    while (!pred() && Date.now() < end) await Bun.sleep(10);
    return pred();
  }
  async ready() {
    expect(await this.until(() => this.frames.some((f) => f.type === 'ready'))).toBe(true);
  }
  async closedWith(code: number, ms = 5_000) {
    await this.until(() => this.closed !== undefined, ms);
    expect(this.closed?.code).toBe(code);
  }
}

const authFrame = (t: string) => JSON.stringify({ type: 'auth', token: t });

const SLOT_TTL_MS = 3_000;

/** Starts a real ws-edge process; every edge of this file shares the namespace (one Redis world). */
async function spawnEdge(port: number): Promise<Subprocess> {
  const proc = Bun.spawn(['../node_modules/.bin/bun', 'src/index.ts'], {
    cwd: `${import.meta.dir}/..`,
    env: {
      ...process.env,
      PORT: String(port),
      NAMESPACE,
      WS_AUTH_TIMEOUT_MS: '400',
      WS_MAX_MESSAGE_BYTES: '1024',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_WS_CONNECTIONS_PER_USER: '5',
      RATE_LIMIT_WS_MESSAGES_PER_SECOND: '10',
      RATE_LIMIT_WS_SLOT_TTL_MS: String(SLOT_TTL_MS),
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  void (async () => {
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) output += new TextDecoder().decode(chunk);
  })();
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return proc;
    await Bun.sleep(100);
  }
  throw new Error(`ws-edge did not become ready: ${output}`);
}

beforeAll(async () => {
  edge = await spawnEdge(PORT);
});

afterAll(async () => {
  edge.kill('SIGKILL');
  await redis.quit();
});

describe('ws-edge', () => {
  test('delivers a user’s updates to that user’s sockets only (first-frame or header auth)', async () => {
    const ada = await token();
    const bob = await token();
    const adaA = new Client(authFrame(ada.token));
    const adaB = new Client(undefined, { authorization: `Bearer ${ada.token}` });
    const bobC = new Client(authFrame(bob.token));
    await Promise.all([adaA.ready(), adaB.ready(), bobC.ready()]);
    const u = update(ada.userId, 1);
    expect(await feed.publish(u)).toBe(true);
    for (const c of [adaA, adaB]) expect(await c.until(() => c.frames.some((f) => f.eventId === u.eventId))).toBe(true);
    await Bun.sleep(150);
    expect(bobC.frames.filter((f) => f.type === 'order.status')).toEqual([]);
    for (const c of [adaA, adaB, bobC]) c.ws.close();
  });

  test('admins receive every user’s updates', async () => {
    const admin = await token(randomUUID(), 60, 'admin');
    const c = new Client(authFrame(admin.token));
    await c.ready();
    const u = update(randomUUID(), 1);
    await feed.publish(u);
    expect(await c.until(() => c.frames.some((f) => f.eventId === u.eventId))).toBe(true);
    c.ws.close();
  });

  test('an admin demoted by a refreshed token stops receiving other users’ updates', async () => {
    const admin = await token(randomUUID(), 60, 'admin');
    const c = new Client(authFrame(admin.token));
    await c.ready();
    const demoted = await token(admin.userId, 60, 'customer');
    c.ws.send(authFrame(demoted.token));
    await c.until(() => c.frames.filter((f) => f.type === 'ready').length === 2);
    const other = update(randomUUID(), 1);
    await feed.publish(other);
    const own = update(admin.userId, 1);
    await feed.publish(own);
    expect(await c.until(() => c.frames.some((f) => f.eventId === own.eventId))).toBe(true);
    expect(c.frames.some((f) => f.eventId === other.eventId)).toBe(false);
    c.ws.close();
  });

  test('closes 4401 when no token comes in time, or the token is not valid', async () => {
    await new Client().closedWith(4401);
    const { token: t } = await token();
    await new Client(authFrame(`${t}x`)).closedWith(4401);
    const bad = await fetch(`http://127.0.0.1:${PORT}/ws/orders`, { headers: { authorization: 'Bearer a.b.c', upgrade: 'websocket' } });
    expect(bad.status).toBe(401);
  });

  test('answers malformed frames with error frames and closes 4400 on repeated abuse', async () => {
    const c = new Client('not json');
    await c.until(() => c.frames.length > 0);
    expect(c.frames[0]).toMatchObject({ type: 'error', code: 'BAD_FRAME' });
    for (let i = 0; i < 5; i++) c.ws.send('{"type":"subscribe-to-everything"}');
    await c.closedWith(4400);
  });

  test('closes 1009 on a frame above the size limit', async () => {
    const c = new Client(JSON.stringify({ type: 'auth', token: 'x'.repeat(4000) }));
    await c.closedWith(1009);
  });

  test('closes 4401 when the token expires, unless the client refreshes it; a socket stays with one user', async () => {
    const short = await token(randomUUID(), 1);
    const c = new Client(authFrame(short.token));
    await c.ready();
    await c.closedWith(4401, 4_000);
    expect(c.closed?.reason).toBe('token expired');

    const user = await token(randomUUID(), 1);
    const refreshed = new Client(authFrame(user.token));
    await refreshed.ready();
    const longer = await token(user.userId, 60);
    refreshed.ws.send(authFrame(longer.token));
    await Bun.sleep(1_800);
    expect(refreshed.closed).toBeUndefined();
    refreshed.ws.send(authFrame((await token()).token));
    await refreshed.closedWith(4403);
  });

  test('at most 5 connections per user across every edge; closing one frees its slot', async () => {
    const port2 = PORT + 100;
    const other = await spawnEdge(port2);
    try {
      const u = await token();
      const here = [1, 2, 3].map(() => new Client(authFrame(u.token)));
      const there = [1, 2].map(() => new Client(authFrame(u.token), undefined, `ws://127.0.0.1:${port2}/ws/orders`));
      for (const c of [...here, ...there]) await c.ready();
      const sixth = new Client(authFrame(u.token), undefined, `ws://127.0.0.1:${port2}/ws/orders`);
      await sixth.closedWith(4429);
      expect(sixth.closed?.reason).toContain('too many connections');
      here[0]?.ws.close();
      await Bun.sleep(200);
      const replacement = new Client(authFrame(u.token));
      await replacement.ready();
      for (const c of [...here, ...there, replacement]) c.ws.close();
    } finally {
      other.kill('SIGTERM');
      await other.exited;
    }
  });

  test('two auth frames sent at once authenticate the socket once (connections gauge stays true)', async () => {
    const gauge = async () => {
      const text = await fetch(`http://127.0.0.1:${PORT}/metrics`).then((r) => r.text());
      const value = (state: string) =>
        Number(
          text
            .split('\n')
            .find((l) => l.startsWith('orders_ws_connections{') && l.includes(`state="${state}"`))
            ?.split(' ')
            .pop() ?? 0,
        );
      return { authenticated: value('authenticated'), pending: value('pending') };
    };
    const before = await gauge();
    const u = await token();
    const twice = new Client();
    await twice.until(() => twice.ws.readyState === WebSocket.OPEN);
    twice.ws.send(authFrame(u.token));
    twice.ws.send(authFrame(u.token));
    await twice.until(() => twice.frames.filter((f) => f.type === 'ready').length === 2);
    expect(await gauge()).toEqual({ authenticated: before.authenticated + 1, pending: before.pending });
    twice.ws.close();
    await twice.until(() => twice.closed !== undefined);
    await Bun.sleep(50);
    expect(await gauge()).toEqual(before);
  });

  test('slots of an edge that died without closing free themselves within the slot TTL', async () => {
    const port3 = PORT + 200;
    const doomed = await spawnEdge(port3);
    const u = await token();
    const lost = [1, 2, 3, 4, 5].map(() => new Client(authFrame(u.token), undefined, `ws://127.0.0.1:${port3}/ws/orders`));
    for (const c of lost) await c.ready();
    doomed.kill('SIGKILL');
    await doomed.exited;
    const tooSoon = new Client(authFrame(u.token));
    await tooSoon.closedWith(4429);
    await Bun.sleep(SLOT_TTL_MS + 300);
    const later = new Client(authFrame(u.token));
    await later.ready();
    later.ws.close();
  });

  test('a connection sending faster than its message rate gets error frames, then 4429', async () => {
    const u = await token();
    const c = new Client(authFrame(u.token));
    await c.ready();
    for (let i = 0; i < 40; i++) c.ws.send(authFrame(u.token));
    await c.closedWith(4429);
    expect(c.frames.some((f) => f.code === 'RATE_LIMITED')).toBe(true);
  });

  test('on SIGTERM tells clients to reconnect elsewhere (1012) and exits cleanly', async () => {
    const u = await token();
    const c = new Client(authFrame(u.token));
    await c.ready();
    edge.kill('SIGTERM');
    await c.closedWith(1012);
    expect(await edge.exited).toBe(0);
  });
});
