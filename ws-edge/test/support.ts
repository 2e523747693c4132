/**
 * What the ws-edge suites share: real ws-edge processes against the real Redis (one namespace for every
 * edge of the run), tokens signed with the gateway's key, a WebSocket client that records frames and its
 * close, the edge's metrics, and a client that stops reading.
 */
import { afterAll, beforeAll, expect } from 'bun:test';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ACCESS_TOKEN_TTL_SECONDS, createRedis, createSigner, feedKeys, parseSigningKey, StatusFeedPublisher } from '@orders/platform';
import { eventually } from '@orders/platform/testing';
import type { Subprocess } from 'bun';

/** Every edge of a run listens on its own port, `edgePort(n)`: n = 0… from a random base. */
const PORT_BASE = 18_190 + Math.floor(Math.random() * 100);
export const edgePort = (n: number) => PORT_BASE + 10 * n;
export const wsUrl = (port: number) => `ws://127.0.0.1:${port}/ws/orders`;

export const NAMESPACE = `edge${randomUUID().slice(0, 6)}`;
export const SLOT_TTL_MS = 3_000;
export const jwt = { issuer: 'order-platform', audience: 'order-platform-api' };
export const signingKey = parseSigningKey(readFileSync(process.env.JWT_SIGNING_KEY_FILE as string, 'utf8'));

export async function token(userId = randomUUID(), ttlSeconds = ACCESS_TOKEN_TTL_SECONDS, role: 'customer' | 'admin' = 'customer') {
  const sign = await createSigner({ ...jwt, ttlSeconds }, signingKey);
  return { userId, token: (await sign({ userId, role, tier: 'standard' })).token };
}

export type Frame = Record<string, unknown>;

export class Client {
  frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  ws: WebSocket;
  constructor(url: string, auth?: string, headers?: Record<string, string>) {
    this.ws = new WebSocket(url, headers ? ({ headers } as unknown as string[]) : undefined);
    this.ws.onopen = () => auth !== undefined && this.ws.send(auth);
    this.ws.onmessage = (e) => this.frames.push(JSON.parse(String(e.data)));
    this.ws.onclose = (e) => {
      this.closed = { code: e.code, reason: e.reason };
    };
  }
  /** The first frame that matches; fails the test naming `what` if none comes in time. */
  frame(match: (f: Frame) => boolean, what: string, timeoutMs?: number): Promise<Frame> {
    return eventually(() => this.frames.find(match), { what, timeoutMs });
  }
  async opened() {
    await eventually(() => this.ws.readyState === WebSocket.OPEN, { what: 'the socket to open' });
  }
  async ready() {
    await this.frame((f) => f.type === 'ready', 'the ready frame');
  }
  async closedWith(code: number, timeoutMs?: number) {
    const closed = await eventually(() => this.closed, { what: `the socket to close (${code} expected)`, timeoutMs });
    expect(closed.code).toBe(code);
  }
  /** Admitted (`ready`) or turned away (closed), whichever comes first. */
  settled(): Promise<'ready' | 'closed'> {
    return eventually(() => (this.frames.some((f) => f.type === 'ready') ? 'ready' : this.closed && 'closed'), {
      what: 'ready or a close',
    });
  }
}

export const authFrame = (t: string) => JSON.stringify({ type: 'auth', token: t });
export const resumeFrame = (after: number) => JSON.stringify({ type: 'resume', after });
export const statusFrames = (c: Client) => c.frames.filter((f) => f.type === 'order.status');

/** One sample of the edge's Prometheus metrics: the series of `name` whose labels include `label`. */
export async function metric(port: number, name: string, label = ''): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return Number(line?.split(' ').pop() ?? 0);
}

/**
 * A WebSocket client that completes the handshake (authenticated by header) and then reads nothing,
 * with a 4 KiB receive buffer (Python: Node cannot set SO_RCVBUF): what a stalled browser tab looks
 * like to the edge, without the tens of MB a loopback socket's autotuned buffers would first absorb.
 */
export async function stalledSocket(port: number, token: string): Promise<Subprocess> {
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

let output = '';

/** Starts a real ws-edge process on `port` and waits until it is ready. */
export async function spawnEdge(port: number, extraEnv: Record<string, string> = {}): Promise<Subprocess> {
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
  const ready = () =>
    fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
  try {
    await eventually(ready, { what: `ws-edge on port ${port} to be ready`, timeoutMs: 10_000, everyMs: 100 });
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${output}`);
  }
  return proc;
}

/**
 * A suite's world: its own Redis connection and feed publisher, and its own edge on `edgePort(n)`,
 * started before the suite's tests and killed after them.
 */
export function edgeSuite(n: number) {
  const port = edgePort(n);
  const redis = createRedis({ url: process.env.REDIS_URL as string, connectionName: 'edge-test' });
  const feed = new StatusFeedPublisher(redis, feedKeys(NAMESPACE));
  let edge: Subprocess | undefined;
  beforeAll(async () => {
    edge = await spawnEdge(port);
  });
  afterAll(async () => {
    edge?.kill('SIGKILL');
    await redis.quit();
  });
  return {
    port,
    url: wsUrl(port),
    redis,
    feed,
    get edge(): Subprocess {
      if (!edge) throw new Error('the suite’s edge has not started');
      return edge;
    },
    /** A client of this suite's edge. */
    client: (auth?: string, headers?: Record<string, string>) => new Client(wsUrl(port), auth, headers),
  };
}
