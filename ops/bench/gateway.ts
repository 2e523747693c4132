/**
 * `npm run bench:gateway`: in one run on this machine, the same load generator against
 *   1. a bare Elysia hello-world (the baseline),
 *   2. GET /api/v1/orders/:id (JWT verification, the rate limiter, the event-invalidated read cache), and
 *      the same with Cache-Control: no-cache (one PostgreSQL read per request),
 *   3. POST /api/v1/orders (JWT, the limiter's tier and endpoint limits, validation, pricing, a durable
 *      commit with its outbox row before the answer), closed-loop for the peak, then open-loop at half
 *      that peak for its latency,
 *   4. a mix like real traffic: 80 % reads by id, 15 % lists, 5 % creates,
 * with many users' tokens, and prints throughput, p50/p99 latency and the ratio to the baseline, each
 * target marked met or NOT met.
 *
 * The rate limiter is on in every scenario with the exact algorithm: the users are premium, whose tier
 * limit is set so high that it never refuses (BENCH_TIER_LIMIT), so every request pays the full check.
 * It uses its own database (orders_bench) and namespace (bench), so it never touches dev or test data.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { startServices, stopServices } from '../local/services.mjs';
import { autocannonSpec, benchEnv, int, str } from './env';
import { BENCH_PORTS, cpuSeconds, createUsers, load, openLoop, perUnit, type Row, table } from './lib';
import { benchStack } from './stack';

const {
  BENCH_SECONDS: SECONDS,
  BENCH_WARMUP_SECONDS: WARMUP_SECONDS,
  BENCH_CONNECTIONS: CONNECTIONS,
  BENCH_USERS: USERS,
  BENCH_TIER_LIMIT: TIER_LIMIT,
} = benchEnv({
  ...autocannonSpec,
  BENCH_WARMUP_SECONDS: int({ default: 2, min: 0 }),
  BENCH_USERS: int({ default: 500, min: 1 }),
  /** The premium tier's limit (a rule like the gateway's RATE_LIMIT_TIER_*): high enough that it never refuses. */
  BENCH_TIER_LIMIT: str({ default: '100000000/1m', pattern: /^(\d{1,9}\/\d{1,9}(ms|s|m|h)|unlimited)$/ }),
});
const ports = BENCH_PORTS;
const helloPort = 28081;

async function waitReady(url: string) {
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready`);
}

const { cfg, mode } = await benchStack('bench');

const rows: Row[] = [];
const bun = join(cfg.root, 'node_modules/.bin/bun');

// 1. Baseline.
const hello: ChildProcess = spawn(bun, ['ops/bench/hello.ts'], {
  cwd: cfg.root,
  env: { ...process.env, PORT: String(helloPort) },
  stdio: 'ignore',
});
try {
  await waitReady(`http://127.0.0.1:${helloPort}/healthz`);
  const url = `http://127.0.0.1:${helloPort}/`;
  await load({ name: 'warm-up', url, seconds: WARMUP_SECONDS, connections: CONNECTIONS });
  rows.push(await load({ name: 'hello-world (baseline)', url, seconds: SECONDS, connections: CONNECTIONS }));
} finally {
  hello.kill('SIGTERM');
}

// 2–4. The gateway, alone (no workers: the benchmark measures the front door and its commit).
const { procs } = await startServices(cfg, mode, {
  only: ['gateway'],
  onLine: () => {},
  env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_TIER_PREMIUM: TIER_LIMIT },
});
const base = `http://127.0.0.1:${ports.gatewayPort}`;
const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');
try {
  const users = await createUsers(base, USERS, 'premium');
  let n = 0;
  const next = () => users[n++ % users.length] as { token: string; orderId: string };
  const getReq = (fresh = false) => {
    const u = next();
    const headers: Record<string, string> = { authorization: `Bearer ${u.token}` };
    if (fresh) headers['cache-control'] = 'no-cache';
    return { method: 'GET', path: `/api/v1/orders/${u.orderId}`, headers };
  };
  const listReq = () => ({ method: 'GET', path: '/api/v1/orders?limit=20', headers: { authorization: `Bearer ${next().token}` } });
  const body = JSON.stringify({
    items: [
      { sku: 'MUG-BLUE', quantity: 2 },
      { sku: 'SOCKS-3PACK', quantity: 1 },
    ],
  });
  const postReq = () => ({
    method: 'POST',
    path: '/api/v1/orders',
    headers: {
      authorization: `Bearer ${next().token}`,
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
    },
    body,
  });
  let m = 0;
  const mixedReq = () => {
    const r = m++ % 20;
    return r === 0 ? postReq() : r <= 3 ? listReq() : getReq();
  };
  const as = (make: () => object) => (req: object) => ({ ...req, ...make() });
  // CPU per request of each process, from /proc, over each scenario: where the time goes.
  const gatewayPid = procs[0]?.child.pid;
  const cpu: string[] = [];
  const scenario = async (name: string, make: () => object) => {
    const before = cpuSeconds({ gateway: gatewayPid, autocannon: process.pid });
    const row = await load({ name, url: base, seconds: SECONDS, connections: CONNECTIONS, setupRequest: as(make) });
    cpu.push(`  ${name}: ${perUnit(before, cpuSeconds({ gateway: gatewayPid, autocannon: process.pid }), row.rps * SECONDS, 1e6, 'µs')}`);
    return row;
  };
  rows.push(await scenario('GET /api/v1/orders/:id', getReq));
  rows.push(await scenario('GET …/:id (no-cache: DB)', () => getReq(true)));
  await load({ name: 'warm-up', url: base, seconds: WARMUP_SECONDS, connections: CONNECTIONS, setupRequest: as(postReq) });
  rows.push(await scenario('POST /api/v1/orders', postReq));
  rows.push(await scenario('mixed 80/15/5', mixedReq));
  const metrics = await fetch(`${base}/metrics`).then((r) => r.text());
  const sum = Number(/orders_order_batch_size_sum\{[^}]*\} (\d+(?:\.\d+)?)/.exec(metrics)?.[1] ?? 0);
  const count = Number(/orders_order_batch_size_count\{[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0);
  const [baseline, getRow, freshRow, postRow, mixedRow] = rows as [Row, Row, Row, Row, Row];
  // Open-loop at half the closed-loop peak: each POST leaves at its scheduled time, latency from then.
  const half = Math.max(100, Math.round(postRow.rps / 2 / 100) * 100);
  const open = await openLoop({ name: 'POST open-loop', url: base, rate: half, seconds: SECONDS, request: postReq });
  process.stdout.write(`\n${table(rows, baseline)}\n\n`);
  process.stdout.write(`CPU per request (the load generator included):\n${cpu.join('\n')}\n`);
  process.stdout.write(
    `POST open-loop at ${open.rate}/s (half the peak) for ${SECONDS} s: ${open.ok} ok, ${open.failed} failed, ` +
      `${open.achieved.toFixed(0)}/s achieved, p50 ${open.p50.toFixed(1)} ms, p99 ${open.p99.toFixed(1)} ms (from the scheduled send time)\n`,
  );
  process.stdout.write(
    `group commit: ${count} transactions for ${sum} orders (${(sum / Math.max(1, count)).toFixed(1)} orders per commit)\n`,
  );
  process.stdout.write(
    `${CONNECTIONS} connections, ${SECONDS} s per scenario after ${WARMUP_SECONDS} s warm-up, ${USERS} premium users ` +
      `(tier limit ${TIER_LIMIT}, exact sliding log: every request checked), autocannon on the same machine\n`,
  );
  const hits = Number(/orders_order_cache_hits_total\{[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0);
  const misses = Number(/orders_order_cache_misses_total\{[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0);
  process.stdout.write(`order read cache: ${hits} hits, ${misses} misses\n`);
  const ratio = (r: Row) => r.rps / baseline.rps;
  process.stdout.write(
    `${[
      'targets:',
      `  GET (cache) ≥ 0.75 × baseline → ${ratio(getRow).toFixed(2)} ${mark(ratio(getRow) >= 0.75)}`,
      `  GET (database) ≥ 0.50 × baseline → ${ratio(freshRow).toFixed(2)} ${mark(ratio(freshRow) >= 0.5)}`,
      `  POST durable ≥ 0.25 × baseline → ${ratio(postRow).toFixed(2)} ${mark(ratio(postRow) >= 0.25)}`,
      `  POST p99 < 25 ms at half the peak, open-loop → ${open.p99.toFixed(1)} ms ${mark(open.p99 < 25 && open.failed === 0)}`,
      `  mixed 80/15/5 (reported) → ${mixedRow.rps.toFixed(0)} req/s, ${ratio(mixedRow).toFixed(2)} × baseline`,
    ].join('\n')}\n`,
  );
  const failures = rows.reduce((s, r) => s + r.errors + r.non2xx, 0) + open.failed;
  if (failures > 0) process.stdout.write(`WARNING: ${failures} failed or non-2xx requests\n`);
} finally {
  await stopServices(procs);
}
process.exit(0);
