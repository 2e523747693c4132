/**
 * `npm run bench:gateway`: in one run on this machine, the same load generator against
 *   1. a bare Elysia hello-world (the baseline),
 *   2. GET /api/v1/orders/:id (JWT verification + the event-invalidated read cache), and the same
 *      with Cache-Control: no-cache (one PostgreSQL read per request),
 *   3. POST /api/v1/orders (JWT, validation, pricing, a durable commit before the answer, outbox),
 * with many users' tokens, and prints throughput, p50/p99 latency and the ratio to the baseline.
 * Targets: POST ≥ 0.25 × baseline, GET ≥ 0.50 × baseline.
 *
 * It uses its own database (orders_bench) and namespace (bench), so it never touches dev or test data.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { bootstrap, prepareData } from '../local/bootstrap.mjs';
import { recreateDatabase } from '../local/components/postgres.mjs';
import { startServices, stopServices } from '../local/services.mjs';
import { BENCH_PORTS, createUsers, load, type Row, table } from './lib';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const USERS = Number(process.env.BENCH_USERS ?? 500);
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

const { cfg, registry } = await bootstrap();
const database = 'orders_bench';
recreateDatabase(cfg, database);
prepareData(cfg, { database, namespace: 'bench', seed: 'dev', resetTopics: true });

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

// 2 and 3. The gateway, alone (no workers: the benchmark measures the front door and its commit).
const mode = { database, namespace: 'bench', stage: 'test' as const, ports, registry, logLevel: 'warn' };
const { procs } = await startServices(cfg, mode, { only: ['gateway'], onLine: () => {} });
const base = `http://127.0.0.1:${ports.gatewayPort}`;
try {
  const users = await createUsers(base, USERS);
  let n = 0;
  const next = () => users[n++ % users.length] as { token: string; orderId: string };
  const get = (req: object) => {
    const u = next();
    return { ...req, method: 'GET', path: `/api/v1/orders/${u.orderId}`, headers: { authorization: `Bearer ${u.token}` } };
  };
  const getFresh = (req: object) => {
    const u = next();
    return {
      ...req,
      method: 'GET',
      path: `/api/v1/orders/${u.orderId}`,
      headers: { authorization: `Bearer ${u.token}`, 'cache-control': 'no-cache' },
    };
  };
  const body = JSON.stringify({
    items: [
      { sku: 'MUG-BLUE', quantity: 2 },
      { sku: 'SOCKS-3PACK', quantity: 1 },
    ],
  });
  const post = (req: object) => {
    const u = next();
    return {
      ...req,
      method: 'POST',
      path: '/api/v1/orders',
      headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body,
    };
  };
  await load({ name: 'warm-up', url: base, seconds: WARMUP_SECONDS, connections: CONNECTIONS, setupRequest: get });
  rows.push(await load({ name: 'GET /api/v1/orders/:id', url: base, seconds: SECONDS, connections: CONNECTIONS, setupRequest: get }));
  rows.push(
    await load({ name: 'GET …/:id (no-cache: DB)', url: base, seconds: SECONDS, connections: CONNECTIONS, setupRequest: getFresh }),
  );
  await load({ name: 'warm-up', url: base, seconds: WARMUP_SECONDS, connections: CONNECTIONS, setupRequest: post });
  rows.push(await load({ name: 'POST /api/v1/orders', url: base, seconds: SECONDS, connections: CONNECTIONS, setupRequest: post }));
  const metrics = await fetch(`${base}/metrics`).then((r) => r.text());
  const sum = Number(/orders_order_batch_size_sum\{[^}]*\} (\d+(?:\.\d+)?)/.exec(metrics)?.[1] ?? 0);
  const count = Number(/orders_order_batch_size_count\{[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0);
  const [baseline] = rows as [Row];
  process.stdout.write(`\n${table(rows, baseline)}\n\n`);
  process.stdout.write(
    `group commit: ${count} transactions for ${sum} orders (${(sum / Math.max(1, count)).toFixed(1)} orders per commit)\n`,
  );
  process.stdout.write(
    `${CONNECTIONS} connections, ${SECONDS} s per scenario after ${WARMUP_SECONDS} s warm-up, ${USERS} users, autocannon on the same machine\n`,
  );
  const getRatio = (rows[1]?.rps ?? 0) / baseline.rps;
  const postRatio = (rows[3]?.rps ?? 0) / baseline.rps;
  const hits = Number(/orders_order_cache_hits_total\{[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0);
  const misses = Number(/orders_order_cache_misses_total\{[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0);
  process.stdout.write(`order read cache: ${hits} hits, ${misses} misses\n`);
  process.stdout.write(
    `targets: GET ≥ 0.50 → ${getRatio.toFixed(2)} ${getRatio >= 0.5 ? 'met' : 'NOT met'}; POST ≥ 0.25 → ${postRatio.toFixed(2)} ${postRatio >= 0.25 ? 'met' : 'NOT met'}\n`,
  );
  const failures = rows.reduce((s, r) => s + r.errors + r.non2xx, 0);
  if (failures > 0) process.stdout.write(`WARNING: ${failures} failed or non-2xx requests\n`);
} finally {
  await stopServices(procs);
}
process.exit(0);
