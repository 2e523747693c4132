/**
 * Shared by the benchmarks: run autocannon for a fixed time against loopback, and summarise the result
 * (throughput, latency percentiles, errors) in one row. Load only ever goes to 127.0.0.1, bounded in time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/** The benchmarks' service ports, beside the dev (8080…) and test (18080…) ones. */
export const BENCH_PORTS = { gatewayPort: 28080, wsEdgePort: 28090, paymentProviderPort: 28070, workerMetricsPort: 29400 };

export interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

export type SetupRequest = (req: { method?: string; path?: string; headers?: Record<string, string>; body?: string }) => object;

export async function load(opts: {
  name: string;
  url: string;
  seconds: number;
  connections: number;
  method?: 'GET' | 'POST';
  setupRequest?: SetupRequest;
}): Promise<Row> {
  if (!opts.url.startsWith('http://127.0.0.1:')) throw new Error('benchmarks only send traffic to loopback');
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.seconds,
    method: opts.method ?? 'GET',
    requests: opts.setupRequest ? [{ setupRequest: opts.setupRequest as never }] : undefined,
  });
  return {
    name: opts.name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

export function table(rows: Row[], baseline: Row): string {
  const head = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'vs baseline', 'errors', 'non-2xx'];
  const lines = rows.map((r) => [
    r.name,
    r.rps.toFixed(0),
    r.p50.toFixed(1),
    r.p99.toFixed(1),
    r === baseline ? '1.00' : (r.rps / baseline.rps).toFixed(2),
    String(r.errors),
    String(r.non2xx),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [fmt(head), ...lines.map(fmt)].join('\n');
}

/** Access tokens of `count` new users, made through the API in rounds of 50 (dev tokens: test stage only). */
export async function devTokens(base: string, count: number, tier = 'enterprise'): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < count; i += 50) {
    const round = await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, async () => {
        const t = await fetch(`${base}/api/v1/auth/dev-token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: `bench-${crypto.randomUUID()}@example.com`, tier }),
        }).then((r) => r.json() as Promise<{ accessToken: string }>);
        return t.accessToken;
      }),
    );
    tokens.push(...round);
  }
  return tokens;
}

/** Users with a token and one order each, created through the API (dev tokens: test stage only). */
export async function createUsers(base: string, count: number, tier = 'enterprise'): Promise<{ token: string; orderId: string }[]> {
  const users: { token: string; orderId: string }[] = [];
  const tokens = await devTokens(base, count, tier);
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(
      tokens.slice(i, i + 50).map(async (token) => {
        const o = await fetch(`${base}/api/v1/orders`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ items: [{ sku: 'MUG-BLUE', quantity: 1 }] }),
        }).then((r) => r.json() as Promise<{ id: string }>);
        return { token, orderId: o.id };
      }),
    );
    users.push(...batch);
  }
  return users;
}

/** Percentile of a sorted array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export type Cpu = Record<string, number>;

/**
 * CPU seconds used so far by the named processes, by PostgreSQL (every backend) and by the JVMs (Kafka,
 * the registry), and by the whole machine (`busy`, out of `cores` × wall time).
 */
export function cpuSeconds(pids: Record<string, number | undefined>): Cpu {
  const tick = 100; // USER_HZ on Linux
  const totals: Cpu = { postgres: 0, kafka: 0, redis: 0 };
  for (const name of Object.keys(pids)) totals[name] = 0;
  const byPid = new Map(Object.entries(pids).map(([name, pid]) => [pid, name]));
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpu = (Number(fields[11]) + Number(fields[12])) / tick;
      const name = byPid.get(Number(pid));
      if (name) totals[name] = (totals[name] ?? 0) + cpu;
      else if (comm === 'postgres') totals.postgres = (totals.postgres ?? 0) + cpu;
      else if (comm === 'java') totals.kafka = (totals.kafka ?? 0) + cpu;
      else if (comm.startsWith('redis-server')) totals.redis = (totals.redis ?? 0) + cpu;
    } catch {
      // The process ended meanwhile.
    }
  }
  const [, ...jiffies] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).map(Number);
  const idle = (jiffies[3] ?? 0) + (jiffies[4] ?? 0);
  totals.busy = (jiffies.reduce((a, b) => a + b, 0) - idle) / tick;
  return totals;
}

/** "workers 120 µs, PostgreSQL 30 µs, …": CPU per unit of work between two snapshots. */
export function perUnit(a: Cpu, b: Cpu, units: number, scale: number, unit: string): string {
  const label: Record<string, string> = { postgres: 'PostgreSQL', kafka: 'Kafka (JVM)', redis: 'Redis', busy: 'whole machine' };
  return Object.keys(b)
    .map((k) => {
      const each = (((b[k] ?? 0) - (a[k] ?? 0)) / Math.max(1, units)) * scale;
      return `${label[k] ?? k} ${Math.max(0, each).toFixed(each < 10 ? 1 : 0)} ${unit}`;
    })
    .join(', ');
}

export interface OpenLoopResult {
  name: string;
  rate: number;
  sent: number;
  ok: number;
  failed: number;
  /** Latency from each request's scheduled time (not its actual send), so a stall is not hidden. */
  p50: number;
  p99: number;
  achieved: number;
}

/**
 * Open-loop load: request i leaves at start + i / rate whatever happened to the earlier ones (keep-alive
 * sockets from a pool, opened as needed up to `maxSockets`), and its latency counts from that scheduled
 * moment, so a stalled server shows as latency instead of as fewer requests (no coordinated omission).
 */
export async function openLoop(opts: {
  name: string;
  url: string;
  rate: number;
  seconds: number;
  request: () => { method: string; path: string; headers: Record<string, string>; body?: string };
  maxSockets?: number;
}): Promise<OpenLoopResult> {
  if (!opts.url.startsWith('http://127.0.0.1:')) throw new Error('benchmarks only send traffic to loopback');
  const { Agent, request } = await import('node:http');
  const agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 512 });
  const target = new URL(opts.url);
  const total = Math.round(opts.rate * opts.seconds);
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  const send = (scheduled: number) =>
    new Promise<void>((resolve) => {
      const r = opts.request();
      const req = request(
        { agent, host: target.hostname, port: target.port, method: r.method, path: r.path, headers: r.headers },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - scheduled);
            if ((res.statusCode ?? 0) < 400) ok++;
            else failed++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end(r.body);
    });
  for (let i = 0; i < total; i++) {
    const scheduled = start + (i * 1000) / opts.rate;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(send(scheduled));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    name: opts.name,
    rate: opts.rate,
    sent: total,
    ok,
    failed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    achieved: ok / elapsed,
  };
}
