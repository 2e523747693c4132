/**
 * One client process of ws-storm (Bun; started by the parent, index.ts): holds its share of the
 * `/ws/orders` sockets with Bun's own WebSocket client, which measured about 3× less CPU per handshake
 * and less memory per socket than the `ws` package on Node (see the README's ws-storm section).
 *
 * Each socket authenticates at the upgrade (`Authorization: Bearer`, as non-browser clients may: no
 * first-frame auth, so the edge's bound on unauthenticated sockets per address never applies), keeps its
 * user's feed as protocol.ts tells clients to (seq-tracker.ts), and when it drops reconnects to the same
 * edge with full-jitter exponential backoff and sends `resume` after the last sequence up to which it has
 * seen everything. Every second it reports counts and latency histograms (publish → receive, from the
 * `sentAt` the publisher stamps) to the parent, one JSON line on stdout; commands come on stdin.
 * If the parent goes away (stdin closes) the process exits at once, and its sockets with it.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { type Backoff, PAGE_BACKOFF, type WorkerCommand, type WorkerReport } from './protocol';
import { SeqTracker } from './seq-tracker';
import { encodeHistogram, newHistogram, recordMs } from './stats';

const IDLE = 0;
const CONNECTING = 1;
const OPEN = 2;
const WAITING = 3;
const STOPPED = 4;

/** Wave states of a socket: untouched, dropped, reopened (resume asked), resumed, resynced. */
const W_NONE = 0;
const W_DROPPED = 1;
const W_REOPENED = 2;
const W_RESUMED = 3;
const W_RESYNCED = 4;

const now = () => performance.timeOrigin + performance.now();
const utf8 = new TextDecoder();

function send(m: WorkerReport) {
  process.stdout.write(`${JSON.stringify(m)}\n`);
}

function fdLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    return Number(line?.split(/\s+/)[3] ?? 0);
  } catch {
    return 0;
  }
}

class Sock {
  ws: WebSocket | undefined;
  state = IDLE;
  attempt = 0;
  everOpen = false;
  /** Holds one of the first-connection handshake slots. */
  gated = false;
  readySeen = false;
  resuming = false;
  /** When the current connection's upgrade completed (updates published before it can only be replays). */
  connectedAt = 0;
  wave = W_NONE;
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly tracker = new SeqTracker();
  constructor(
    readonly user: number,
    readonly edge: number,
  ) {}
}

let worker = -1;
let edges: string[] = [];
let tokens: string[] = [];
let socks: Sock[] = [];
let concurrency = 64;
let handshakeTimeoutMs = 30_000;
let backoff: Backoff = PAGE_BACKOFF;
let stopping = false;
let waveArmed = false;

// Gauges.
let open = 0;
let connecting = 0;
// Deltas since the last tick.
let c = { delivered: 0, replayed: 0, repeats: 0, errors: 0, resumed: 0, resync: 0, attempts: 0, retries: 0, refreshed: 0 };
let byEdge: number[] = [];
let closes: Record<string, number> = {};
let errorKinds: Record<string, number> = {};
const live = newHistogram();
const replay = newHistogram();
const waveCount = [0, 0, 0, 0, 0];
let lastReopenAt = 0;
let lastDoneAt = 0;
let totalRepeats = 0;
let loopLag = 0;
// The event loop's lateness: a busy client process delays receipts, and so inflates latencies it reports.
let expectedAt = performance.now() + 100;
setInterval(() => {
  const t = performance.now();
  loopLag = Math.max(loopLag, t - expectedAt);
  expectedAt = t + 100;
}, 100);

function kind(k: string) {
  c.errors += 1;
  errorKinds[k] = (errorKinds[k] ?? 0) + 1;
}

function setWave(s: Sock, next: number) {
  waveCount[s.wave] = (waveCount[s.wave] ?? 0) - 1;
  waveCount[next] = (waveCount[next] ?? 0) + 1;
  s.wave = next;
}

// First connections go through a bounded number of handshakes in flight: the edges' listen backlog is
// finite. Reconnections do not: jittered backoff is what spreads them, as with real clients.
const queue: Sock[] = [];
let head = 0;
let inFlight = 0;

function pump() {
  while (inFlight < concurrency && head < queue.length) {
    const s = queue[head++] as Sock;
    if (s.state === STOPPED) continue;
    inFlight += 1;
    s.gated = true;
    dial(s);
  }
  if (head === queue.length && head > 0) {
    queue.length = 0;
    head = 0;
  }
}

function release(s: Sock) {
  if (!s.gated) return;
  s.gated = false;
  inFlight -= 1;
  pump();
}

function setState(s: Sock, next: number) {
  if (s.state === OPEN) open -= 1;
  else if (s.state === CONNECTING || s.state === WAITING) connecting -= 1;
  if (next === OPEN) open += 1;
  else if (next === CONNECTING || next === WAITING) connecting += 1;
  s.state = next;
}

function dial(s: Sock) {
  if (stopping) return;
  setState(s, CONNECTING);
  c.attempts += 1;
  s.readySeen = false;
  s.resuming = false;
  let ws: WebSocket;
  try {
    // Bun's WebSocket takes headers in its second argument (not in the DOM typings).
    ws = new WebSocket(
      edges[s.edge] as string,
      {
        headers: { authorization: `Bearer ${tokens[s.user]}` },
      } as unknown as string[],
    );
  } catch (err) {
    // E.g. no descriptor left: counted, retried like a refused handshake.
    kind(`dial failed: ${(err as Error).message.slice(0, 60)}`);
    release(s);
    retryLater(s, 0);
    return;
  }
  s.ws = ws;
  s.timer = setTimeout(() => {
    if (s.ws !== ws || s.readySeen) return;
    kind('handshake timeout');
    ws.close();
    lost(s, ws, 0);
  }, handshakeTimeoutMs);
  ws.onopen = () => {
    s.connectedAt = now();
  };
  ws.onmessage = (e) => onFrame(s, ws, e.data as string | ArrayBuffer);
  ws.onclose = (e) => lost(s, ws, e.code);
  ws.onerror = () => {};
}

/** The connection ended (closed, refused, timed out): count it and, unless stopping, retry after a backoff. */
function lost(s: Sock, ws: WebSocket, code: number) {
  if (s.ws !== ws) return;
  s.ws = undefined;
  clearTimeout(s.timer);
  if (code !== 0) closes[code] = (closes[code] ?? 0) + 1;
  const wasOpen = s.state === OPEN;
  if (stopping || s.state === STOPPED) {
    setState(s, STOPPED);
    return;
  }
  if (!wasOpen) {
    // A reconnection refused while its edge restarts is what backoff is for: a retry, not an error.
    if (s.everOpen) c.retries += 1;
    else if (code !== 0) kind(`handshake failed (${code})`);
    release(s);
  } else {
    // 1012: an edge draining (the wave) is expected; anything else is an error.
    if (code !== 1012) kind(`closed ${code}`);
    if (waveArmed && (s.wave === W_NONE || s.wave === W_REOPENED || s.wave === W_RESUMED || s.wave === W_RESYNCED)) setWave(s, W_DROPPED);
  }
  retryLater(s, code);
}

/** Capped full-jitter backoff (protocol.ts: the tracking page's), then a new handshake (a first connection queues for a slot again). */
function retryLater(s: Sock, code: number) {
  setState(s, WAITING);
  s.attempt += 1;
  const floor = code === 1012 ? Math.random() * backoff.restartSpreadMs : code === 4429 ? backoff.rateLimitedFloorMs : 0;
  const delay = floor + Math.random() * Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.min(s.attempt, 6));
  s.timer = setTimeout(() => {
    if (stopping) return;
    if (s.everOpen) dial(s);
    else {
      queue.push(s);
      pump();
    }
  }, delay);
}

function onFrame(s: Sock, ws: WebSocket, data: string | ArrayBuffer) {
  if (s.ws !== ws) return;
  const text = typeof data === 'string' ? data : utf8.decode(data);
  let f: { type?: string; seq?: unknown; sentAt?: unknown; code?: unknown };
  try {
    f = JSON.parse(text) as typeof f;
  } catch {
    kind('frame not JSON');
    return;
  }
  switch (f.type) {
    case 'order.status': {
      if (typeof f.seq !== 'number') return;
      if (s.tracker.update(f.seq) === 'repeat') {
        c.repeats += 1;
        totalRepeats += 1;
        return;
      }
      byEdge[s.edge] = (byEdge[s.edge] ?? 0) + 1;
      if (typeof f.sentAt !== 'number') {
        c.delivered += 1;
        return;
      }
      const latency = now() - f.sentAt;
      if (f.sentAt < s.connectedAt) {
        c.replayed += 1;
        recordMs(replay, latency);
      } else {
        c.delivered += 1;
        recordMs(live, latency);
      }
      return;
    }
    case 'ready': {
      if (s.readySeen) {
        // A refreshed token was accepted.
        c.refreshed += 1;
        return;
      }
      s.readySeen = true;
      clearTimeout(s.timer);
      setState(s, OPEN);
      s.everOpen = true;
      release(s);
      const seq = typeof f.seq === 'number' ? f.seq : null;
      if (s.tracker.ready(seq) === 'first') s.attempt = 0;
      else {
        s.resuming = true;
        ws.send(JSON.stringify({ type: 'resume', after: s.tracker.contiguous }));
        if (s.wave === W_DROPPED) {
          setWave(s, W_REOPENED);
          lastReopenAt = Date.now();
        }
      }
      return;
    }
    case 'resumed':
      c.resumed += 1;
      s.resuming = false;
      s.attempt = 0;
      if (s.wave === W_REOPENED) {
        setWave(s, W_RESUMED);
        lastDoneAt = Date.now();
      }
      return;
    case 'resync':
      c.resync += 1;
      s.resuming = false;
      s.attempt = 0;
      s.tracker.resync();
      if (s.wave === W_REOPENED) {
        setWave(s, W_RESYNCED);
        lastDoneAt = Date.now();
      }
      return;
    case 'resume-needed':
      s.resuming = true;
      ws.send(JSON.stringify({ type: 'resume', after: s.tracker.contiguous }));
      return;
    case 'error':
      kind(`error frame ${String(f.code)}`);
      return;
    default:
      kind(`unknown frame ${String(f.type).slice(0, 20)}`);
  }
}

function tick() {
  const cpu = process.cpuUsage();
  send({
    type: 'tick',
    worker,
    pid: process.pid,
    at: Date.now(),
    sockets: socks.length,
    open,
    connecting,
    ...c,
    deliveredByEdge: Array.from({ length: edges.length }, (_, i) => byEdge[i] ?? 0),
    closes,
    errorKinds,
    live: encodeHistogram(live),
    replay: encodeHistogram(replay),
    rssBytes: process.memoryUsage.rss(),
    cpuMicros: cpu.user + cpu.system,
    loopLagMs: Math.round(loopLag * 10) / 10,
    wave: {
      dropped: (waveCount[W_DROPPED] ?? 0) + (waveCount[W_REOPENED] ?? 0) + (waveCount[W_RESUMED] ?? 0) + (waveCount[W_RESYNCED] ?? 0),
      reopened: (waveCount[W_REOPENED] ?? 0) + (waveCount[W_RESUMED] ?? 0) + (waveCount[W_RESYNCED] ?? 0),
      resumed: waveCount[W_RESUMED] ?? 0,
      resync: waveCount[W_RESYNCED] ?? 0,
      lastReopenAt,
      lastDoneAt,
    },
  });
  c = { delivered: 0, replayed: 0, repeats: 0, errors: 0, resumed: 0, resync: 0, attempts: 0, retries: 0, refreshed: 0 };
  byEdge = [];
  closes = {};
  errorKinds = {};
  live.reset();
  replay.reset();
  loopLag = 0;
}

function refresh(fresh: string[], spreadMs: number) {
  tokens = fresh;
  const targets = socks.filter((s) => s.state === OPEN);
  const steps = Math.max(1, Math.floor(spreadMs / 50));
  const per = Math.ceil(targets.length / steps);
  for (let i = 0; i < steps; i++) {
    setTimeout(() => {
      for (const s of targets.slice(i * per, (i + 1) * per)) {
        if (s.state === OPEN && s.ws) s.ws.send(JSON.stringify({ type: 'auth', token: tokens[s.user] }));
      }
    }, i * 50);
  }
}

function check(last: number[]) {
  let checked = 0;
  let lostUpdates = 0;
  let socketsWithLoss = 0;
  let resynced = 0;
  let notOpen = 0;
  for (const s of socks) {
    if (s.state !== OPEN || s.resuming) notOpen += 1;
    else if (s.tracker.resynced) resynced += 1;
    else {
      checked += 1;
      const m = s.tracker.missing(last[s.user] ?? 0);
      lostUpdates += m;
      if (m > 0) socketsWithLoss += 1;
    }
  }
  send({ type: 'checked', worker, checked, lost: lostUpdates, socketsWithLoss, resynced, notOpen, repeats: totalRepeats });
}

async function stop() {
  stopping = true;
  for (const s of socks) {
    clearTimeout(s.timer);
    if (s.ws) s.ws.close(1000, 'load test done');
    else setState(s, STOPPED);
  }
  const deadline = Date.now() + 3_000;
  while (socks.some((s) => s.ws !== undefined) && Date.now() < deadline) await Bun.sleep(50);
  tick();
  send({ type: 'stopped', worker });
  process.exit(0);
}

let ticker: ReturnType<typeof setInterval> | undefined;

function handle(cmd: WorkerCommand) {
  switch (cmd.type) {
    case 'init':
      worker = cmd.worker;
      edges = cmd.edges;
      tokens = cmd.tokens;
      socks = cmd.sockets.map(([u, e]) => new Sock(u, e));
      concurrency = cmd.concurrency;
      handshakeTimeoutMs = cmd.handshakeTimeoutMs;
      backoff = cmd.backoff;
      send({ type: 'hello', worker, pid: process.pid, fdLimit: fdLimit() });
      ticker ??= setInterval(tick, 1_000);
      return;
    case 'connect':
      for (const s of socks) queue.push(s);
      pump();
      return;
    case 'tokens':
      refresh(cmd.tokens, cmd.spreadMs);
      return;
    case 'wave':
      waveArmed = true;
      return;
    case 'check':
      check(cmd.last);
      return;
    case 'stop':
      clearInterval(ticker);
      void stop();
      return;
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
lines.on('line', (line) => {
  if (line.trim() === '') return;
  try {
    handle(JSON.parse(line) as WorkerCommand);
  } catch (err) {
    send({ type: 'fatal', worker, message: (err as Error).message });
  }
});
// The parent is gone: nothing will read the reports or stop the sockets. Leave at once.
lines.on('close', () => {
  if (!stopping) process.exit(0);
});
