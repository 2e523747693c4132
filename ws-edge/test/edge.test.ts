/**
 * The real ws-edge process against the real Redis: authentication, ownership, abuse handling, token
 * expiry, and the drain on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sampleStatusUpdate } from '@orders/contracts/testing/samples';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  createLogger,
  createRedis,
  createRedisClient,
  createSigner,
  feedKeys,
  parseSigningKey,
  RevokedSessions,
  revocationKeys,
  StatusFeedPublisher,
} from '@orders/platform';
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
const resumeFrame = (after: number) => JSON.stringify({ type: 'resume', after });
const statusFrames = (c: Client) => c.frames.filter((f) => f.type === 'order.status');

/** One sample of the edge's Prometheus metrics: the series of `name` whose labels include `label`. */
async function metric(port: number, name: string, label = ''): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return Number(line?.split(' ').pop() ?? 0);
}

/**
 * A WebSocket client that completes the handshake (authenticated by header) and then reads nothing,
 * with a 4 KiB receive buffer (Python: Node cannot set SO_RCVBUF): what a stalled browser tab looks
 * like to the edge, without the tens of MB a loopback socket's autotuned buffers would first absorb.
 */
async function stalledSocket(port: number, token: string): Promise<Subprocess> {
  const script = `
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", ${port}))
s.sendall(sys.stdin.readline().strip().encode().replace(b"|", b"\\r\\n"))
print(s.recv(12).decode(), flush=True)
time.sleep(60)
`;
  const proc = Bun.spawn(['python3', '-c', script], { stdin: 'pipe', stdout: 'pipe', stderr: 'inherit' });
  const request =
    `GET /ws/orders HTTP/1.1|Host: 127.0.0.1:${port}|Upgrade: websocket|Connection: Upgrade|` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}|Sec-WebSocket-Version: 13|Authorization: Bearer ${token}||`;
  proc.stdin.write(`${request}\n`);
  await proc.stdin.flush();
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const { value } = await reader.read();
  expect(new TextDecoder().decode(value)).toStartWith('HTTP/1.1 101');
  return proc;
}

const SLOT_TTL_MS = 3_000;

/** Starts a real ws-edge process; every edge of this file shares the namespace (one Redis world). */
async function spawnEdge(port: number, extraEnv: Record<string, string> = {}): Promise<Subprocess> {
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
      WS_MAX_BUFFERED_BYTES: String(64 * 1024),
      REDIS_CLUSTER_NODES: '',
      ...extraEnv,
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

  test('bounds the sockets one address holds before they authenticate (429 at the upgrade beyond)', async () => {
    const port = PORT + 300;
    const strict = await spawnEdge(port, { WS_MAX_PENDING_PER_IP: '3', WS_AUTH_TIMEOUT_MS: '5000' });
    const url = `ws://127.0.0.1:${port}/ws/orders`;
    try {
      const waiting = [new Client(undefined, undefined, url), new Client(undefined, undefined, url), new Client(undefined, undefined, url)];
      expect(await waiting[0]?.until(() => waiting.every((c) => c.ws.readyState === WebSocket.OPEN))).toBe(true);
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
      const next = new Client(authFrame(t), undefined, url);
      await next.ready();
      // A socket authenticated at the upgrade never counted.
      const byHeader = new Client(undefined, { authorization: `Bearer ${t}` }, url);
      await byHeader.ready();
      for (const c of [...waiting, next, byHeader]) c.ws.close();
    } finally {
      strict.kill('SIGKILL');
    }
  });

  test('a session ended elsewhere (logout) closes its sockets at once and refuses its token', async () => {
    const sessions = new RevokedSessions({
      redis,
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
    const a = new Client(authFrame(inSession));
    const b = new Client(authFrame(otherSession));
    await a.ready();
    await b.ready();
    await sessions.revoke(sessionId);
    await a.closedWith(4401);
    expect(a.closed?.reason).toContain('session ended');
    await new Client(authFrame(inSession)).closedWith(4401);
    expect(b.closed).toBeUndefined();
    b.ws.close();
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
    const gauge = async () => ({
      authenticated: await metric(PORT, 'orders_ws_connections', 'state="authenticated"'),
      pending: await metric(PORT, 'orders_ws_connections', 'state="pending"'),
    });
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

  test('a bad token right behind a good one closes that socket, never the edge', async () => {
    const u = await token();
    const c = new Client();
    await c.until(() => c.ws.readyState === WebSocket.OPEN);
    // Sent together: the bad token's verification fails while the good one is still being admitted.
    c.ws.send(authFrame(u.token));
    c.ws.send(authFrame('x'));
    await c.closedWith(4401);
    await Bun.sleep(300);
    expect(edge.exitCode).toBeNull();
    const next = new Client(authFrame((await token()).token));
    await next.ready();
    next.ws.close();
  });

  test('a connection sending faster than its message rate gets error frames, then 4429', async () => {
    const u = await token();
    const c = new Client(authFrame(u.token));
    await c.ready();
    for (let i = 0; i < 40; i++) c.ws.send(authFrame(u.token));
    await c.closedWith(4429);
    expect(c.frames.some((f) => f.code === 'RATE_LIMITED')).toBe(true);
  });

  test('ready carries the user’s latest sequence; resume replays what a client missed, or says resync', async () => {
    const u = await token();
    for (let seq = 1; seq <= 3; seq++) await feed.publish(update(u.userId, seq));
    const first = new Client(authFrame(u.token));
    await first.ready();
    expect(first.frames.find((f) => f.type === 'ready')?.seq).toBe(3);
    const expiresIn = Number(first.frames.find((f) => f.type === 'ready')?.expiresIn);
    expect(expiresIn).toBeGreaterThan(ACCESS_TOKEN_TTL_SECONDS - 30);
    expect(expiresIn).toBeLessThanOrEqual(ACCESS_TOKEN_TTL_SECONDS);
    const live = update(u.userId, 4);
    await feed.publish(live);
    expect(await first.until(() => statusFrames(first).some((f) => f.seq === 4))).toBe(true);
    first.ws.close();
    await first.until(() => first.closed !== undefined);

    // Missed while away: 5 and 6. The resume goes right behind the auth frame.
    const missed = [update(u.userId, 5), update(u.userId, 6)];
    for (const m of missed) await feed.publish(m);
    const back = new Client();
    await back.until(() => back.ws.readyState === WebSocket.OPEN);
    back.ws.send(authFrame(u.token));
    back.ws.send(resumeFrame(4));
    expect(await back.until(() => back.frames.some((f) => f.type === 'resumed'))).toBe(true);
    expect(statusFrames(back).map((f) => f.eventId)).toEqual(missed.map((m) => m.eventId));
    expect(back.frames.find((f) => f.type === 'resumed')).toEqual({ type: 'resumed', after: 4, seq: 6, count: 2 });

    // A client ahead of what Redis holds (or whose updates were trimmed) is told to re-read.
    back.ws.send(resumeFrame(40));
    expect(await back.until(() => back.frames.some((f) => f.type === 'resync'))).toBe(true);
    expect(back.frames.find((f) => f.type === 'resync')).toEqual({ type: 'resync', reason: 'gap' });
    back.ws.close();

    // Resuming before authenticating is an error, not a leak.
    const stranger = new Client(resumeFrame(0));
    await stranger.until(() => stranger.frames.length > 0);
    expect(stranger.frames[0]).toMatchObject({ type: 'error', code: 'NOT_AUTHENTICATED' });
    expect(statusFrames(stranger)).toEqual([]);
    stranger.ws.close();
  });

  test('recovers what was published while the edge restarted', async () => {
    const port4 = PORT + 300;
    let restarting = await spawnEdge(port4);
    const u = await token();
    await feed.publish(update(u.userId, 1));
    const url = `ws://127.0.0.1:${port4}/ws/orders`;
    const c = new Client(authFrame(u.token), undefined, url);
    await c.ready();
    restarting.kill('SIGTERM');
    await c.closedWith(1012);
    await restarting.exited;
    const missed = [update(u.userId, 2), update(u.userId, 3)];
    for (const m of missed) await feed.publish(m);
    restarting = await spawnEdge(port4);
    try {
      const again = new Client(undefined, { authorization: `Bearer ${u.token}` }, url);
      await again.ready();
      again.ws.send(resumeFrame(1));
      expect(await again.until(() => again.frames.some((f) => f.type === 'resumed'))).toBe(true);
      expect(statusFrames(again).map((f) => f.eventId)).toEqual(missed.map((m) => m.eventId));
      again.ws.close();
    } finally {
      restarting.kill('SIGTERM');
      await restarting.exited;
    }
  });

  test('when the edge’s Redis subscription drops, its clients are asked to resume and miss nothing', async () => {
    const u = await token();
    await feed.publish(update(u.userId, 1));
    const c = new Client(authFrame(u.token));
    await c.ready();
    await redis.client('KILL', 'TYPE', 'pubsub');
    const meanwhile = update(u.userId, 2);
    await feed.publish(meanwhile);
    expect(await c.until(() => c.frames.some((f) => f.type === 'resume-needed'))).toBe(true);
    c.ws.send(resumeFrame(1));
    expect(await c.until(() => c.frames.some((f) => f.type === 'resumed'))).toBe(true);
    expect(statusFrames(c).some((f) => f.eventId === meanwhile.eventId)).toBe(true);
    c.ws.close();
  });

  test('on a Redis Cluster: delivery, connection slots and resume work the same', async () => {
    const nodes = (process.env.TEST_REDIS_CLUSTER_NODES ?? '').split(',').filter(Boolean);
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    const port5 = PORT + 400;
    const onCluster = await spawnEdge(port5, { REDIS_CLUSTER_NODES: nodes.join(',') });
    const cluster = createRedisClient({ url: process.env.REDIS_URL as string, clusterNodes: nodes, connectionName: 'edge-test-cluster' });
    try {
      const clusterFeed = new StatusFeedPublisher(cluster, feedKeys(NAMESPACE));
      const url = `ws://127.0.0.1:${port5}/ws/orders`;
      const users = await Promise.all(Array.from({ length: 6 }, () => token()));
      const clients = users.map((u) => new Client(authFrame(u.token), undefined, url));
      for (const c of clients) await c.ready();
      const updates = users.map((u) => update(u.userId, 1));
      for (const u of updates) await clusterFeed.publish(u);
      for (const [n, c] of clients.entries())
        expect(await c.until(() => statusFrames(c).some((f) => f.eventId === updates[n]?.eventId))).toBe(true);
      // Away, then back: what was missed comes from the user's sorted set on whichever master holds it.
      const first = clients[0] as Client;
      first.ws.close();
      const missed = [update(users[0]?.userId as string, 2), update(users[0]?.userId as string, 3)];
      for (const m of missed) await clusterFeed.publish(m);
      const back = new Client(authFrame(users[0]?.token as string), undefined, url);
      await back.ready();
      back.ws.send(resumeFrame(1));
      expect(await back.until(() => back.frames.some((f) => f.type === 'resumed'))).toBe(true);
      expect(statusFrames(back).map((f) => f.eventId)).toEqual(missed.map((m) => m.eventId));
      for (const c of [...clients, back]) c.ws.close();
    } finally {
      cluster.disconnect();
      onCluster.kill('SIGTERM');
      await onCluster.exited;
    }
  });

  test('a client that stops reading is closed (4408) once its send buffer passes the bound; others keep flowing', async () => {
    const slow = await token();
    const fast = await token();
    const stalled = await stalledSocket(PORT, slow.token);
    const healthy = new Client(authFrame(fast.token));
    await healthy.ready();
    const before = await metric(PORT, 'orders_ws_slow_consumers_total');
    const held = await metric(PORT, 'orders_ws_connections', 'state="authenticated"');
    const big = { reason: 'x'.repeat(20_000) };
    try {
      // At most 8 MB: the kernel's send buffer (4 MB at most here) and then the edge's 64 KiB bound.
      for (let seq = 1; seq <= 400; seq++) {
        await feed.publish({ ...update(slow.userId, seq), ...big });
        if (seq % 20 === 0 && (await metric(PORT, 'orders_ws_slow_consumers_total')) > before) break;
      }
      expect(await metric(PORT, 'orders_ws_slow_consumers_total')).toBe(before + 1);
      expect(await metric(PORT, 'orders_ws_closes_total', 'code="4408"')).toBeGreaterThanOrEqual(1);
      // Let go of within the grace period even though it never takes its close frame.
      const released = async () => (await metric(PORT, 'orders_ws_connections', 'state="authenticated"')) === held - 1;
      const end = Date.now() + 5_000;
      while (!(await released()) && Date.now() < end) await Bun.sleep(100);
      expect(await released()).toBe(true);
      const other = update(fast.userId, 1);
      await feed.publish(other);
      expect(await healthy.until(() => healthy.frames.some((f) => f.eventId === other.eventId))).toBe(true);
    } finally {
      stalled.kill();
      healthy.ws.close();
      await redis.del(feedKeys(NAMESPACE).recent(slow.userId));
    }
  }, 30_000);

  test('on SIGTERM tells clients to reconnect elsewhere (1012) and exits cleanly', async () => {
    const u = await token();
    const c = new Client(authFrame(u.token));
    await c.ready();
    edge.kill('SIGTERM');
    await c.closedWith(1012);
    expect(await edge.exited).toBe(0);
  });
});
