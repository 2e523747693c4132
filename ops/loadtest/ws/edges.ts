/**
 * The edges of a ws-storm run: the caller's (`wsUrls`, used as they are) and, for a local target, extra
 * ws-edge processes this run starts on free loopback ports (ops/local/services.mjs, exactly as `npm start`
 * runs the edge, with the target's namespace, Redis and JWT keys) and stops afterwards. One of the edges
 * the run started is what the reconnect wave restarts: SIGTERM (it drains: 1012 to every socket, slots
 * given back), then the same port again.
 *
 * An edge's memory and CPU come from /proc when it runs on this machine (its process found by its
 * listening port): cheap enough to sample every few seconds. Otherwise from its `/metrics`
 * (prom-client's process metrics), only at phase boundaries: rendering them reads /proc/self/fd, one
 * entry per socket, and with 17,000 sockets that stalls the edge for ~50 ms (seen as p99 spikes every
 * 5 s when this run sampled that way).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import type { StackConfig } from '../../local/config.mjs';
import { type Mode, startServices, stopServices } from '../../local/services.mjs';

type Proc = Awaited<ReturnType<typeof startServices>>['procs'][number];

export interface Edge {
  /** ws://host:port/ws/orders */
  url: string;
  /** Started (and owned) by this run. */
  started: boolean;
  /** Its process, when it runs on this machine (found by its port; a restart changes it). */
  pid?: number;
  proc?: Proc;
  /** Set while the run itself stops or restarts it (an exit then is expected). */
  expectingExit?: boolean;
}

export interface EdgeSample {
  rssBytes: number;
  cpuSeconds: number;
  /** Authenticated sockets (from /metrics only). */
  sockets: number;
  /** A restart shows as a new value. */
  startedAt: number;
  /** The process's own high-water mark (from /proc only). */
  peakRssBytes?: number;
}

const CLK_TCK = 100;

/** RSS, CPU seconds and start time of a local process from /proc; undefined once it is gone. */
export function sampleProcess(pid: number): EdgeSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15, starttime 22.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
    return {
      rssBytes: kib('VmRSS') * 1024,
      cpuSeconds: (Number(f[11]) + Number(f[12])) / CLK_TCK,
      sockets: Number.NaN,
      startedAt: Number(f[19]),
      peakRssBytes: kib('VmHWM') * 1024,
    };
  } catch {
    return undefined;
  }
}

/** The local process listening on a TCP port (/proc/net/tcp, then each process's descriptors), if any. */
export function pidListeningOn(port: number): number | undefined {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let inode: string | undefined;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols[1]?.endsWith(hex) && cols[3] === '0A') inode = cols[9];
      }
    } catch {}
    if (inode) break;
  }
  if (!inode) return undefined;
  const target = `socket:[${inode}]`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${entry}/fd/${fd}`) === target) return Number(entry);
      } catch {}
    }
  }
  return undefined;
}

/** http://host:port of an edge's `/ws/orders` URL (its metrics and health live there). */
export function edgeBase(url: string): string {
  const u = new URL(url);
  return `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}`;
}

export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function metric(text: string, name: string, label = ''): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (label && !line.includes(label)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    found = true;
  }
  return found ? sum : Number.NaN;
}

/** One edge's resident memory, CPU seconds and authenticated sockets; undefined when it does not answer. */
export async function sampleEdge(url: string): Promise<EdgeSample | undefined> {
  try {
    const res = await fetch(`${edgeBase(url)}/metrics`, { signal: AbortSignal.timeout(3_000) });
    if (!res.ok) return undefined;
    const text = await res.text();
    return {
      rssBytes: metric(text, 'orders_process_resident_memory_bytes'),
      cpuSeconds: metric(text, 'orders_process_cpu_seconds_total'),
      sockets: metric(text, 'orders_ws_connections', 'state="authenticated"'),
      startedAt: metric(text, 'orders_process_start_time_seconds'),
    };
  } catch {
    return undefined;
  }
}

export async function edgeReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${edgeBase(url)}/readyz`, { signal: AbortSignal.timeout(3_000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** A port the kernel just handed out on `host` (free when it answers; startServices checks again). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * The local edges this run starts: on free ports, with the target's environment (`mode`: its namespace
 * and stage; `env`: REDIS_URL and anything else to override), output kept for a failure's message.
 */
export class LocalEdges {
  readonly edges: Edge[] = [];
  private readonly lines: string[] = [];

  constructor(
    private readonly cfg: StackConfig,
    private readonly mode: Omit<Mode, 'ports'>,
    private readonly env: Record<string, string>,
    /** An edge this run started exited on its own. */
    private readonly onUnexpectedExit: (edge: Edge, code: number | null) => void,
  ) {}

  /** The last lines the started edges printed (for an error message). */
  tail(n = 20): string {
    return this.lines.slice(-n).join('\n');
  }

  private async spawn(port: number): Promise<Proc> {
    const { procs } = await startServices(
      this.cfg,
      { ...this.mode, ports: { ...this.cfg.testServices, wsEdgePort: port } },
      {
        only: ['ws-edge'],
        env: this.env,
        onLine: (_service, line) => {
          this.lines.push(`[ws-edge:${port}] ${line}`);
          if (this.lines.length > 400) this.lines.splice(0, 200);
          if (/"level":"(error|fatal)"|"level":(50|60)\b/.test(line)) process.stderr.write(`[ws-edge:${port}] ${line}\n`);
        },
      },
    );
    const proc = procs[0];
    if (!proc) throw new Error('ws-edge did not start');
    return proc;
  }

  private watch(edge: Edge) {
    const proc = edge.proc;
    void proc?.exited.then((code) => {
      if (edge.proc === proc && !edge.expectingExit) this.onUnexpectedExit(edge, code);
    });
  }

  async start(): Promise<Edge> {
    const port = await freePort(this.cfg.host);
    const edge: Edge = { url: `ws://${this.cfg.host}:${port}/ws/orders`, started: true };
    this.edges.push(edge);
    edge.proc = await this.spawn(port);
    edge.pid = edge.proc.child.pid;
    this.watch(edge);
    return edge;
  }

  /** SIGTERM (the edge drains: 1012 to each socket), wait for its exit, start it again on the same port. */
  async restart(edge: Edge): Promise<{ drainMs: number; restartMs: number }> {
    if (!edge.proc) throw new Error(`${edge.url} was not started by this run`);
    const port = Number(new URL(edge.url).port);
    edge.expectingExit = true;
    const t0 = Date.now();
    await stopServices([edge.proc]);
    const drainMs = Date.now() - t0;
    edge.proc = await this.spawn(port);
    edge.pid = edge.proc.child.pid;
    edge.expectingExit = false;
    this.watch(edge);
    return { drainMs, restartMs: Date.now() - t0 - drainMs };
  }

  async stopAll(): Promise<void> {
    const running = this.edges.filter((e) => e.proc && e.proc.child.exitCode === null);
    for (const e of running) e.expectingExit = true;
    await stopServices(running.map((e) => e.proc as Proc));
  }

  /** Last resort (the process is exiting): SIGKILL whatever is still running. */
  killAllSync(): void {
    for (const e of this.edges) {
      if (e.proc && e.proc.child.exitCode === null) {
        e.expectingExit = true;
        e.proc.child.kill('SIGKILL');
      }
    }
  }
}
