/**
 * The WebSocket engine of the `ws-storm` load-test scenario (#17): many concurrent `/ws/orders` sockets
 * across several edges, publish → delivery latency at a steady publish rate, then a reconnect wave (one
 * edge restarted: it drains with 1012, its clients reconnect with jittered backoff and resume).
 *
 *   parent (this module)                       client processes (worker.ts, Bun, ≥ 3)
 *   ── users + tokens (dev-token or a file)     each holds its users' sockets (< its open-files limit),
 *   ── extra local edges (ops/local/services)   reports counts + hdr histograms every second
 *   ── publisher (StatusFeedPublisher → Redis)  ◄── NDJSON over stdin/stdout ──►  merged here (stats.ts)
 *
 * Phases: setup (edges, tokens, one seed update per user, client processes) → connect (every socket
 * authenticated, `ready`) → steady (publishRate updates/s for durationS) → wave (restart one edge, wait
 * until every dropped socket is open and resumed again, publishing throughout) → settle (publishing
 * stops; each open socket's sequences compared with what was published to its user: updates lost).
 *
 * The wave's clients reconnect to the edge they had (with 50,000 sockets over 3 edges of ≤ 20,000
 * descriptors each, the other two could not take a third of the sockets more), with the tracking page's
 * own backoff (protocol.ts), and resume after their last contiguous sequence.
 *
 * Bounded: connections, duration, processes and edges have hard caps (`LIMITS`, plan.ts), every phase
 * has a time budget and the whole run a watchdog. On an error everything started (client processes,
 * edges, the Redis connection) is stopped before the promise rejects; on SIGINT/SIGTERM or the caller's
 * AbortSignal the same, and the promise resolves with what was measured (`interrupted: true`); if the
 * process exits regardless, client processes and edges are killed on the way out.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createRedisClient, type RedisClient } from '@orders/platform';
import { stackConfig } from '../../local/config.mjs';
import { type Edge, type EdgeSample, edgeReady, LocalEdges, pidListeningOn, sampleEdge, sampleProcess } from './edges';
import { assign, fdLimit, planRun, type WsStormOptions } from './plan';
import { PAGE_BACKOFF, type WorkerCheck, type WorkerCommand, type WorkerReport } from './protocol';
import { FeedLoad } from './publisher';
import { type Phase, StatsMerger, type WsSecond } from './stats';
import type { PhaseUsage, WsStormResult, WsStormSummary } from './summary';
import { localSigningKey, mintTokens, readTokensFile, signLocalTokens, type UserToken } from './tokens';

export { assign, fdLimit, LIMITS, planRun, type WsStormOptions } from './plan';
export type { LatencySummary, Phase, WsSecond } from './stats';
export { formatWsStorm, type PhaseUsage, type WsStormResult, type WsStormSummary } from './summary';

/** Tokens are refreshed this long before they expire (default). */
const REFRESH_LEAD_S = 180;

const cfg = stackConfig();

/** Busy and total jiffies of the whole machine (/proc/stat), undefined off Linux. */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.split(/\s+/).slice(1).map(Number) ?? [];
    const total = cpu.reduce((a, b) => a + b, 0);
    const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

interface Snapshot {
  at: number;
  machine: ReturnType<typeof machineTicks>;
  clients: number[];
  edges: (EdgeSample | undefined)[];
  parent: number;
}

class WorkerHandle {
  readonly waiters = new Map<string, (r: WorkerReport) => void>();
  stopping = false;
  constructor(
    readonly index: number,
    readonly child: ChildProcess,
  ) {}
  send(cmd: WorkerCommand) {
    if (this.child.stdin?.writable) this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
  }
  /** The next report of `type` (rejects on abort or after `ms`). */
  next<T extends WorkerReport>(type: T['type'], ms: number, signal: AbortSignal): Promise<T> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters.delete(type);
        reject(new Error(`client process ${this.index} sent no ${type} within ${ms} ms`));
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.set(type, (r) => {
        clearTimeout(t);
        signal.removeEventListener('abort', onAbort);
        resolve(r as T);
      });
    });
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

/** Polls `done` every 100 ms until it holds (true) or `ms` passes (false). */
async function until(done: () => boolean, ms: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await sleep(100, signal);
  }
  return true;
}

/** A stop asked for (a signal, the caller's abort), not a failure. */
export class Interrupted extends Error {}

const MiB = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;

export async function runWsStorm(opts: WsStormOptions, onSecond: (s: WsSecond) => void): Promise<WsStormResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`[ws-storm] ${line}\n`));
  const plan = planRun(opts);
  const started = Date.now();
  const ctl = new AbortController();
  const { signal } = ctl;
  const abort = (err: Error) => {
    if (!signal.aborted) ctl.abort(err);
  };

  const merger = new StatsMerger();
  const perSecond: WsSecond[] = [];
  const workers: WorkerHandle[] = [];
  let phase: Phase = 'setup';
  let localEdges: LocalEdges | undefined;
  let redis: RedisClient | undefined;
  let feed: FeedLoad | undefined;
  let secondTimer: ReturnType<typeof setInterval> | undefined;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  let sampleTimer: ReturnType<typeof setInterval> | undefined;

  // Stop cleanly on a signal or the caller's abort; kill what is left if the process exits regardless.
  const onSignal = (sig: string) => abort(new Interrupted(sig));
  const handleSignals = opts.handleSignals !== false;
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const onCallerAbort = () => abort(new Interrupted('aborted by the caller'));
  opts.signal?.addEventListener('abort', onCallerAbort, { once: true });
  const onExit = () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    localEdges?.killAllSync();
  };
  process.on('exit', onExit);
  // Budget: setup (tokens at ≥ 200/s), connect, steady, wave, settle, and a margin.
  const budgetS = 120 + plan.users / 200 + plan.connectTimeoutS + plan.durationS + (opts.reconnectWave ? plan.waveTimeoutS + 30 : 0) + 60;
  const watchdog = setTimeout(() => abort(new Error(`ws-storm passed its time bound (${Math.round(budgetS)} s)`)), budgetS * 1000);
  watchdog.unref?.();

  try {
    // ── setup: edges ────────────────────────────────────────────────────────────────────────────────
    const edges: Edge[] = opts.wsUrls.map((url) => ({ url, started: false }));
    for (const e of edges) if (!(await edgeReady(e.url))) throw new Error(`${e.url}: the edge is not ready (/readyz)`);
    const needOwn = opts.reconnectWave && !opts.restartEdge;
    let toStart = plan.startEdges ? Math.max(0, plan.minEdges - edges.length) : 0;
    // The wave restarts an edge this run owns: start one if there would be none.
    if (toStart === 0 && needOwn && plan.startEdges) toStart = 1;
    if (toStart > 0) {
      localEdges = new LocalEdges(
        cfg,
        { database: cfg.postgres.database, namespace: plan.namespace, stage: plan.stage, registry: false, logLevel: 'warn' },
        {
          REDIS_URL: plan.redisUrl,
          ...(opts.redisClusterNodes ? { REDIS_CLUSTER_NODES: opts.redisClusterNodes.join(',') } : {}),
          ...opts.edgeEnv,
        },
        (edge, code) => abort(new Error(`${edge.url}: the edge exited on its own (code ${code})\n${localEdges?.tail() ?? ''}`)),
      );
      const own = localEdges;
      log(`starting ${toStart} local edge(s) (namespace '${plan.namespace}')`);
      edges.push(...(await Promise.all(Array.from({ length: toStart }, () => own.start()))));
    }
    if (edges.length === 0) throw new Error('no edge to connect to');
    const wsUrls = edges.map((e) => e.url);
    log(`edges: ${wsUrls.join(', ')}`);

    // ── setup: users and tokens ─────────────────────────────────────────────────────────────────────
    const prefix = opts.userPrefix ?? `ws-storm-${started.toString(36)}`;
    let tokens: UserToken[];
    const t0 = Date.now();
    // The local stack's own key signs them when it is there (the dev-token route is limited per address).
    const signingCfg = plan.local && opts.signLocally !== false && localSigningKey(stackConfig()) ? stackConfig() : undefined;
    const acquire = (progress?: (n: number) => void) =>
      signingCfg
        ? signLocalTokens(signingCfg, prefix, plan.users)
        : mintTokens({ gatewayUrl: opts.gatewayUrl, prefix, count: plan.users, concurrency: 32, signal, onProgress: progress });
    if (opts.tokensFile) tokens = readTokensFile(opts.tokensFile, plan.users);
    else {
      log(
        `${signingCfg ? 'signing' : 'minting'} ${plan.users} users' tokens ${signingCfg ? 'with the local stack’s key' : `at ${opts.gatewayUrl}`}`,
      );
      tokens = await acquire((n) => log(`  ${n} tokens`));
    }
    log(`${tokens.length} users' tokens in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const expiresAt = Math.min(...tokens.map((t) => t.expiresAt)) * 1000;
    const runEnd = Date.now() + (plan.connectTimeoutS + plan.durationS + (opts.reconnectWave ? plan.waveTimeoutS : 0) + 30) * 1000;
    if (opts.tokensFile && runEnd > expiresAt - 60_000)
      throw new Error(
        `the tokens in ${opts.tokensFile} expire at ${new Date(expiresAt).toISOString()}, before this run could end: give fresher tokens or a shorter run`,
      );

    // ── setup: the feed (one update per user first, so every socket starts from a stored sequence) ──
    redis = createRedisClient({ url: plan.redisUrl, clusterNodes: opts.redisClusterNodes, connectionName: 'ws-storm-publisher' });
    feed = new FeedLoad(
      redis,
      plan.namespace,
      tokens.map((t) => t.userId),
    );
    await feed.seed(signal);

    // ── setup: client processes ─────────────────────────────────────────────────────────────────────
    const shares = assign(plan, edges.length);
    const bun = join(cfg.root, 'node_modules/.bin/bun');
    const limit = fdLimit();
    for (let w = 0; w < plan.processes; w++) {
      const child = spawn(bun, [join(import.meta.dirname, 'worker.ts')], { stdio: ['pipe', 'pipe', 'pipe'], cwd: cfg.root });
      const handle = new WorkerHandle(w, child);
      workers.push(handle);
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        let r: WorkerReport;
        try {
          r = JSON.parse(line) as WorkerReport;
        } catch {
          log(`client ${w}: ${line.slice(0, 200)}`);
          return;
        }
        if (r.type === 'tick') merger.add(r, phase);
        else if (r.type === 'fatal') abort(new Error(`client process ${w}: ${r.message}`));
        const waiter = handle.waiters.get(r.type);
        if (waiter) {
          handle.waiters.delete(r.type);
          waiter(r);
        }
      });
      let stderrLines = 0;
      createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
        if (stderrLines++ < 50) log(`client ${w} stderr: ${line.slice(0, 300)}`);
      });
      child.on('exit', (code) => {
        if (!handle.stopping) abort(new Error(`client process ${w} exited on its own (code ${code})`));
      });
      const share = shares[w] as (typeof shares)[number];
      const hello = handle.next<Extract<WorkerReport, { type: 'hello' }>>('hello', 15_000, signal);
      handle.send({
        type: 'init',
        worker: w,
        edges: wsUrls,
        tokens: share.users.map((u) => (tokens[u] as UserToken).token),
        sockets: share.sockets,
        concurrency: opts.connectConcurrency ?? 128,
        handshakeTimeoutMs: 30_000,
        backoff: PAGE_BACKOFF,
      });
      const h = await hello;
      if (share.sockets.length > h.fdLimit - 64)
        throw new Error(`client process ${w} would hold ${share.sockets.length} sockets with an open-files limit of ${h.fdLimit}`);
    }
    log(
      `${plan.processes} client processes (pids ${workers.map((w) => w.child.pid).join(', ')}; fd limit ${limit}), ${plan.users} users × ${plan.perUser}, ${plan.connections} sockets over ${edges.length} edges`,
    );

    // Token refresh: the same users again, before the first token expires (dev-token only).
    let tokenRefreshes = 0;
    const leadMs = (opts.tokenRefreshLeadS ?? REFRESH_LEAD_S) * 1000;
    const scheduleRefresh = (at: number) => {
      refreshTimer = setTimeout(
        async () => {
          try {
            log('refreshing tokens');
            const mintedAt = Date.now();
            const fresh = await acquire();
            tokens = fresh;
            const next = Math.min(...fresh.map((t) => t.expiresAt)) * 1000 - leadMs;
            // The auth frames are spread, but well within the time to the next refresh.
            const spreadMs = Math.max(200, Math.min(10_000, (next - mintedAt) / 4));
            for (const [w, handle] of workers.entries()) {
              const share = shares[w] as (typeof shares)[number];
              handle.send({ type: 'tokens', tokens: share.users.map((u) => (fresh[u] as UserToken).token), spreadMs });
            }
            tokenRefreshes += 1;
            scheduleRefresh(next);
          } catch (err) {
            abort(new Error(`token refresh failed: ${(err as Error).message}`));
          }
        },
        Math.max(0, at - Date.now()),
      );
    };
    if (!opts.tokensFile) scheduleRefresh(expiresAt - leadMs);

    // ── per second, and resource snapshots at phase boundaries ──────────────────────────────────────
    let t = 0;
    let peakOpen = 0;
    secondTimer = setInterval(() => {
      t += 1;
      const s = merger.takeSecond(t, phase, feed?.takeSecond() ?? 0);
      peakOpen = Math.max(peakOpen, s.open);
      perSecond.push(s);
      try {
        onSecond(s);
      } catch (err) {
        abort(err as Error);
      }
    }, 1_000);
    // Edges on this machine are sampled through /proc every 2 s (cheap, nothing asked of the edge); the
    // others through /metrics at phase boundaries only (see edges.ts).
    if (plan.local) for (const e of edges) e.pid ??= pidListeningOn(Number(new URL(e.url).port));
    const peakEdgeRss = new Map<string, number>();
    const edgeSockets = new Map<string, number>();
    const noteRss = (url: string, s: EdgeSample | undefined) => {
      const rss = Math.max(s?.rssBytes ?? 0, s?.peakRssBytes ?? 0);
      if (Number.isFinite(rss) && rss > 0) peakEdgeRss.set(url, Math.max(peakEdgeRss.get(url) ?? 0, rss));
    };
    const sampleLocal = () => {
      for (const e of edges) if (e.pid) noteRss(e.url, sampleProcess(e.pid));
    };
    sampleTimer = setInterval(sampleLocal, 2_000);
    /** Every edge now; `metrics` also scrapes the local ones (for their socket counts: only once publishing stopped). */
    const sampleEdges = async (metrics: boolean) =>
      Promise.all(
        edges.map(async (e) => {
          const local = e.pid ? sampleProcess(e.pid) : undefined;
          const scraped = metrics || !local ? await sampleEdge(e.url) : undefined;
          if (scraped && Number.isFinite(scraped.sockets)) edgeSockets.set(e.url, scraped.sockets);
          const s = local ?? scraped;
          noteRss(e.url, s);
          return s;
        }),
      );
    const lastEdgeRss = new Map<string, number>();
    const snapshots: { phase: Phase; snap: Snapshot }[] = [];
    const snapshot = async (final = false): Promise<Snapshot> => {
      const cpu = process.cpuUsage();
      const at = Date.now();
      const machine = machineTicks();
      const clients = merger.processes().map((p) => p.cpuMicros);
      const edgeSamples = await sampleEdges(final);
      edgeSamples.forEach((s, i) => {
        if (s && Number.isFinite(s.rssBytes)) lastEdgeRss.set((edges[i] as Edge).url, s.rssBytes);
      });
      return { at, machine, clients, edges: edgeSamples, parent: cpu.user + cpu.system };
    };
    const enter = async (next: Phase) => {
      snapshots.push({ phase, snap: await snapshot() });
      phase = next;
      log(`phase ${next}`);
    };

    // Measured phases. An interruption (SIGINT/SIGTERM, the caller's signal) ends them early and the run
    // still returns what was measured; any other failure rejects.
    let allOpen = false;
    let connectSeconds = 0;
    let connectAttempts = 0;
    let interrupted = false;
    let wave: WsStormSummary['wave'] = { skipped: opts.reconnectWave ? 'interrupted before the wave' : 'not asked for' };
    let waveStart = 0;
    const restarted = new Set<string>();
    try {
      // ── connect ───────────────────────────────────────────────────────────────────────────────────
      await enter('connect');
      const connectStart = Date.now();
      for (const w of workers) w.send({ type: 'connect' });
      allOpen = await until(
        () => {
          peakOpen = Math.max(peakOpen, merger.open);
          connectSeconds = (Date.now() - connectStart) / 1000;
          connectAttempts = merger.totals.attempts;
          return merger.open >= plan.connections;
        },
        plan.connectTimeoutS * 1000,
        signal,
      );
      log(`${merger.open}/${plan.connections} sockets open in ${connectSeconds.toFixed(1)} s${allOpen ? '' : ' (connect budget spent)'}`);
      if (merger.open === 0) throw new Error(`no socket opened: ${JSON.stringify(merger.totals.errorKinds).slice(0, 500)}`);

      // ── steady ────────────────────────────────────────────────────────────────────────────────────
      await enter('steady');
      feed.start(opts.publishRate);
      const probeS = Math.min(5, plan.durationS);
      await sleep(probeS * 1000, signal);
      if (feed.published >= 10 * edges.length) {
        // Every edge holding sockets must pass updates on (a user's sockets are spread over the edges):
        // one that does not listens on another Redis or namespace. Ticks lag by up to a second: give them that.
        const silent = () => wsUrls.filter((_, i) => i < plan.connections && (merger.totals.deliveredByEdge[i] ?? 0) === 0);
        await until(() => silent().length === 0, 2_500, signal);
        if (silent().length > 0)
          throw new Error(
            `${feed.published} updates published on ${plan.redisUrl} (namespace '${plan.namespace}') reached no socket on ${silent().join(', ')}: are redisUrl and namespace the target's?`,
          );
      }
      await sleep((plan.durationS - probeS) * 1000, signal);

      // ── wave ──────────────────────────────────────────────────────────────────────────────────────
      if (opts.reconnectWave) {
        const own = edges.find((e) => e.started);
        const target = opts.restartEdge ? (edges.find((e) => !e.started) ?? own) : own;
        if (!target) wave = { skipped: 'no edge to restart: pass restartEdge, or let the run start a local edge' };
        else {
          await enter('wave');
          for (const w of workers) w.send({ type: 'wave' });
          await sleep(300, signal);
          const openBefore = merger.open;
          waveStart = Date.now();
          log(`restarting ${target.url} (${openBefore} sockets open)`);
          wave = {
            edge: target.url,
            dropped: 0,
            allOpenMs: null,
            allResumedMs: null,
            resumed: 0,
            resync: 0,
            replay: merger.latency([]),
            live: merger.latency([]),
            completed: false,
          };
          const current = wave;
          if (target.started && localEdges && !opts.restartEdge) {
            const timing = await localEdges.restart(target);
            current.drainMs = timing.drainMs;
            current.edgeRestartMs = timing.restartMs;
          } else {
            await (opts.restartEdge as (url: string) => Promise<void>)(target.url);
            if (plan.local) target.pid = pidListeningOn(Number(new URL(target.url).port));
          }
          restarted.add(target.url);
          current.completed = await until(
            () => {
              const w = merger.wave;
              return w.dropped > 0 && w.reopened === w.dropped && w.resumed + w.resync === w.dropped && merger.open >= openBefore;
            },
            plan.waveTimeoutS * 1000,
            signal,
          );
          const w = merger.wave;
          log(
            `wave: ${w.dropped} dropped, ${w.reopened} reopened, ${w.resumed} resumed, ${w.resync} resync${current.completed ? '' : ' (wave budget spent)'}`,
          );
          // Live deliveries on the reconnected sockets, for a couple of seconds more.
          await sleep(2_000, signal);
        }
      }
    } catch (err) {
      if (!(err instanceof Interrupted)) throw err;
      interrupted = true;
      log(`${err.message}: summarising what was measured`);
    }

    // ── settle: stop publishing, let the last deliveries land, compare sequences ──────────────────────
    snapshots.push({ phase, snap: await snapshot() });
    phase = 'settle';
    await feed.stop();
    let loss: WsStormSummary['loss'] = { checked: 0, lost: 0, socketsWithLoss: 0, resynced: 0, notOpen: 0, repeats: 0 };
    if (!interrupted) {
      log('phase settle');
      let last = -1;
      let stableSince = Date.now();
      await until(
        () => {
          if (merger.totals.delivered !== last) {
            last = merger.totals.delivered;
            stableSince = Date.now();
          }
          return Date.now() - stableSince >= 2_200;
        },
        15_000,
        signal,
      );
      const checks = await Promise.all(
        workers.map((h, w) => {
          const share = shares[w] as (typeof shares)[number];
          const reply = h.next<WorkerCheck>('checked', 15_000, signal);
          h.send({ type: 'check', last: share.users.map((u) => feed?.last[u] ?? 0) });
          return reply;
        }),
      );
      const sum = { checked: 0, lost: 0, socketsWithLoss: 0, resynced: 0, notOpen: 0, repeats: 0 };
      for (const c of checks) {
        sum.checked += c.checked;
        sum.lost += c.lost;
        sum.socketsWithLoss += c.socketsWithLoss;
        sum.resynced += c.resynced;
        sum.notOpen += c.notOpen;
        sum.repeats += c.repeats;
      }
      loss = sum;
      snapshots.push({ phase, snap: await snapshot(true) });
    }
    if ('edge' in wave) {
      const w = merger.wave;
      wave.dropped = w.dropped;
      wave.resumed = w.resumed;
      wave.resync = w.resync;
      wave.allOpenMs = wave.completed && w.lastReopenAt > 0 ? w.lastReopenAt - waveStart : null;
      wave.allResumedMs = wave.completed && w.lastDoneAt > 0 ? w.lastDoneAt - waveStart : null;
      wave.replay = merger.latency(['wave', 'settle'], 'replay');
      wave.live = merger.latency(['wave']);
    }

    // ── summary ─────────────────────────────────────────────────────────────────────────────────────
    const usage: PhaseUsage[] = [];
    for (let i = 1; i < snapshots.length; i++) {
      const a = (snapshots[i - 1] as (typeof snapshots)[number]).snap;
      const { phase: p, snap: b } = snapshots[i] as (typeof snapshots)[number];
      const wall = Math.max(1, b.at - a.at);
      usage.push({
        phase: p,
        seconds: Math.round(wall / 100) / 10,
        machineCpuPct:
          a.machine && b.machine
            ? Math.round(((b.machine.busy - a.machine.busy) / Math.max(1, b.machine.total - a.machine.total)) * cpus().length * 1000) / 10
            : undefined,
        clientCpuPct: b.clients.map((c, k) => Math.round(((c - (a.clients[k] ?? 0)) / 1000 / wall) * 1000) / 10),
        edgeCpuPct: b.edges.map((e, k) => {
          const before = a.edges[k];
          if (!e || !before || e.startedAt !== before.startedAt) return undefined;
          return Math.round((((e.cpuSeconds - before.cpuSeconds) * 1000) / wall) * 1000) / 10;
        }),
        parentCpuPct: Math.round(((b.parent - a.parent) / 1000 / wall) * 1000) / 10,
      });
    }
    const parentCpu = process.cpuUsage();
    const steady = merger.latency(['steady']);
    const summary: WsStormSummary = {
      opened: peakOpen,
      deliveryP50Ms: steady.count > 0 ? steady.p50Ms : null,
      deliveryP99Ms: steady.count > 0 ? steady.p99Ms : null,
      resumeExpected: 'dropped' in wave ? wave.dropped : null,
      resumed: 'dropped' in wave ? wave.resumed : null,
      lost: loss.lost,
      interrupted,
      target: {
        gatewayUrl: opts.gatewayUrl,
        namespace: plan.namespace,
        connections: plan.connections,
        users: plan.users,
        socketsPerUser: plan.perUser,
        clientProcesses: plan.processes,
        publishRate: opts.publishRate,
        durationS: plan.durationS,
        short: opts.short,
        tokens: opts.tokensFile ? 'file' : 'dev-token',
        tokenRefreshes,
        socketsReauthenticated: merger.totals.refreshed,
      },
      edges: edges.map((e, i) => {
        const rss = lastEdgeRss.get(e.url);
        const peak = peakEdgeRss.get(e.url);
        return {
          url: e.url,
          started: e.started,
          restarted: restarted.has(e.url),
          pid: e.pid,
          sockets: edgeSockets.get(e.url),
          delivered: merger.totals.deliveredByEdge[i] ?? 0,
          rssMiB: rss === undefined ? undefined : MiB(rss),
          peakRssMiB: peak === undefined ? undefined : MiB(peak),
        };
      }),
      connect: { peakOpen, allOpen, seconds: Math.round(connectSeconds * 10) / 10, attempts: connectAttempts },
      delivery: {
        ...steady,
        published: feed.published,
        expected: feed.expected((u) => Math.max(0, Math.min(plan.perUser, plan.connections - u * plan.perUser))),
        delivered: merger.totals.delivered,
        publishFailures: feed.failed,
      },
      wave,
      loss,
      errors: {
        total: merger.totals.errors,
        byKind: merger.totals.errorKinds,
        closesByCode: merger.totals.closes,
        reconnectRetries: merger.totals.retries,
      },
      processes: {
        clients: merger.processes().map((p) => ({
          pid: p.pid,
          sockets: p.sockets,
          peakRssMiB: MiB(p.peakRssBytes),
          cpuSeconds: Math.round(p.cpuMicros / 1e5) / 10,
        })),
        parent: { rssMiB: MiB(process.memoryUsage().rss), cpuSeconds: Math.round((parentCpu.user + parentCpu.system) / 1e5) / 10 },
      },
      usage,
      clientLagMs: Object.fromEntries(merger.lag),
      cores: cpus().length,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
    return { summary, perSecond };
  } finally {
    clearTimeout(watchdog);
    clearInterval(secondTimer);
    clearInterval(sampleTimer);
    clearTimeout(refreshTimer);
    await feed?.stop().catch(() => {});
    await Promise.all(
      workers.map(async (w) => {
        w.stopping = true;
        if (w.child.exitCode !== null) return;
        const exited = new Promise<void>((resolve) => w.child.once('exit', () => resolve()));
        w.send({ type: 'stop' });
        const timer = setTimeout(() => w.child.kill('SIGKILL'), 6_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    await localEdges?.stopAll().catch((err) => log(`stopping edges: ${(err as Error).message}`));
    await redis?.quit().catch(() => redis?.disconnect());
    process.off('exit', onExit);
    if (handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    opts.signal?.removeEventListener('abort', onCallerAbort);
  }
}
