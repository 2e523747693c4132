/**
 * `npm run bench:workers`: in one run on this machine,
 *   1. one stage's throughput in one consumer process: BENCH_EVENTS `order.placed` events are written to
 *      Kafka first, then the validator (a real workers process, WORKER_STAGES=validator) works through
 *      the backlog: decode, fraud scoring on the pool, rules, one transaction per partition batch
 *      (claim + outputs), `order.validated` produced with acks from all replicas, offsets stored.
 *      Baseline: a consumer process with the same librdkafka settings that only consumes and decodes.
 *      Target ≥ 50,000 events/s (stretch: 0.5 × the baseline).
 *   2. fraud scoring on the main thread (the baseline) and on the Tinypool with 1…N threads.
 *   3. end to end at fixed order rates (BENCH_ORDER_RATES): orders POSTed to the gateway, every stage in one workers
 *      process, the simulated payment provider (20 ± 10 ms): time from the order's commit to the
 *      `shipped` status (both stamped by PostgreSQL), p50/p99.
 *
 * Its own database (orders_bench) and namespaces; load goes to 127.0.0.1 only, bounded in count and time.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { EventCodec, namespaced, schemaRegistryFor, Topics } from '@orders/contracts';
import postgres from 'postgres';
import { prepareData } from '../local/bootstrap.mjs';
import { type Mode, startServices, stopServices } from '../local/services.mjs';
import { writePlacedBacklog } from './backlog';
import { benchEnv, int, listOf, num, oneOf } from './env';
import { BENCH_PORTS, cpuSeconds, perUnit } from './lib';
import { placedToShipped, settle } from './orders';
import { benchStack } from './stack';
import { type StageStat, stageStats } from './worker-metrics';

const {
  BENCH_EVENTS: EVENTS,
  BENCH_BATCH_SIZE: BATCH,
  BENCH_ORDER_RATES: RATES,
  BENCH_SECONDS: SECONDS,
  BENCH_PARTS: PARTS,
} = benchEnv({
  BENCH_EVENTS: int({ default: 50_000, min: 1 }),
  BENCH_BATCH_SIZE: int({ default: 500, min: 1 }),
  /** Order rates for the end-to-end part, each run for BENCH_SECONDS: below and near what this machine sustains. */
  BENCH_ORDER_RATES: listOf(num({ above: 0 }), [10, 30]),
  BENCH_SECONDS: num({ default: 20, above: 0 }),
  /** Which parts to run: a comma list of 1, 2, 3 (all by default). */
  BENCH_PARTS: listOf(oneOf(['1', '2', '3'] as const), ['1', '2', '3']),
});
const ports = BENCH_PORTS;
const out = (line = '') => process.stdout.write(`${line}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const metricsUrl = `http://127.0.0.1:${ports.workerMetricsPort}/metrics`;
const none: StageStat = { n: 0, size: 0, seconds: 0, phases: {} };
/** No order shipped: the percentiles are null, printed as 0. */
const orZero = (x: number) => (Number.isNaN(x) ? 0 : x);

const { cfg, database, mode: stageMode, env } = await benchStack('benchw');
const brokers = env.KAFKA_BROKERS.split(',');
const codec = new EventCodec(schemaRegistryFor(env.SCHEMA_REGISTRY_URL || undefined));
await codec.prepare();
const events = namespaced(Topics.orderEvents, stageMode.namespace);

function runJson(cmd: string, args: string[], cwd: string, extra: Record<string, string>): Promise<Record<string, number>[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env, ...extra }, stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (c) => {
      text += c;
    });
    child.on('exit', (code) =>
      code === 0
        ? resolve(
            text
              .split('\n')
              .filter((l) => l.startsWith('{'))
              .map((l) => JSON.parse(l)),
          )
        : reject(new Error(`${args.join(' ')} exited with ${code}`)),
    );
  });
}

// ── 1. One stage, one process ──────────────────────────────────────────────────────────────────────
if (PARTS.includes('1')) {
  out(`\n1. validator stage, one consumer process: ${fmt(EVENTS)} order.placed events, batches of ${BATCH}`);
  {
    const written = await writePlacedBacklog({ brokers, topic: events, codec, count: EVENTS });
    out(`   written in ${written.toFixed(1)} s`);

    const baseline = (
      await runJson('node', ['--import', 'tsx', 'bench/consume-only.ts'], join(cfg.root, 'workers'), {
        EVENTS: String(EVENTS),
        TOPIC: events,
        GROUP: `${stageMode.namespace}.bench-baseline`,
        KAFKA_BATCH_SIZE: String(BATCH),
      })
    )[0] as { rate: number; events: number };

    const { procs } = await startServices(cfg, stageMode, {
      only: ['workers'],
      onLine: (_, line) => {
        if (/"level":"(error|fatal)"/.test(line)) process.stderr.write(`[workers] ${line}\n`);
      },
      env: { WORKER_STAGES: 'validator', KAFKA_BATCH_SIZE: String(BATCH) },
    });
    const handled = async () => {
      const text = await fetch(metricsUrl).then((r) => r.text());
      const line = text
        .split('\n')
        .find((l) => l.startsWith('orders_worker_messages_total{') && l.includes('stage="validator"') && l.includes('outcome="handled"'));
      return Number(line?.split(' ').pop() ?? 0);
    };
    let first = 0;
    let startedAt = 0;
    let endedAt = 0;
    let done = 0;
    const pids = { workers: procs[0]?.child.pid };
    let cpuAtStart = cpuSeconds(pids);
    const deadline = Date.now() + 300_000;
    try {
      while (done < EVENTS && Date.now() < deadline) {
        done = await handled();
        endedAt = performance.now();
        if (done > 0 && startedAt === 0) {
          // From the first poll that saw work done: start-up (connect, join the group) is not counted.
          startedAt = endedAt;
          first = done;
          cpuAtStart = cpuSeconds(pids);
        }
        if (done < EVENTS) await new Promise((r) => setTimeout(r, 200));
      }
      out(`   CPU per event: ${perUnit(cpuAtStart, cpuSeconds(pids), done - first, 1e6, 'µs')}`);
      const v = (await stageStats(metricsUrl)).get('validator') ?? none;
      const each = (x: number) => (x / Math.max(1, v.n)) * 1000;
      const phases = ['prepare', 'apply', 'emit'].map((p) => `${p} ${each(v.phases[p] ?? 0).toFixed(1)}`).join(', ');
      out(
        `   ${fmt(v.n)} batches, ${(v.size / Math.max(1, v.n)).toFixed(0)} messages each, ${each(v.seconds).toFixed(1)} ms each (${phases} ms)`,
      );
    } finally {
      await stopServices(procs);
    }
    const rate = (done - first) / ((endedAt - startedAt) / 1000);
    const sql = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
    const [claims] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM processed_events WHERE consumer_group = 'orders.validator'`;
    await sql.end();
    out(`   baseline (consume + decode only): ${fmt(baseline.rate)} events/s`);
    out(
      `   validator (scoring, rules, transaction, produce, offsets): ${fmt(rate)} events/s = ${(rate / baseline.rate).toFixed(2)} × baseline`,
    );
    out(
      `   ${fmt(done)} handled, ${fmt(claims?.n ?? 0)} processed-event records; target ≥ 50,000/s → ${rate >= 50_000 ? 'met' : 'NOT met'}; stretch 0.5 × baseline → ${rate >= baseline.rate / 2 ? 'met' : 'NOT met'}`,
    );
  }
}
// ── 2. Fraud scoring ──────────────────────────────────────────────────────────────────────────────
if (PARTS.includes('2')) {
  out('\n2. fraud scoring (32 → 64 → 32 → 1 perceptron), batches of 100');
  {
    const rows = await runJson('node', ['--import', 'tsx', 'bench/fraud.ts'], join(cfg.root, 'workers'), {});
    const main = rows.find((r) => r.threads === 0) as { rate: number };
    for (const r of rows) {
      const label = r.threads === 0 ? 'main thread (baseline)' : `pool, ${r.threads} thread${r.threads === 1 ? '' : 's'}`;
      out(`   ${label.padEnd(24)} ${fmt(r.rate ?? 0).padStart(9)} orders/s  ${((r.rate ?? 0) / main.rate).toFixed(2)} ×`);
    }
  }
}
// ── 3. End to end at a fixed rate ─────────────────────────────────────────────────────────────────
if (PARTS.includes('3')) {
  for (const RATE of RATES) {
    out(`\n3. end to end: ${RATE} orders/s for ${SECONDS} s, every stage in one workers process`);
    const e2eMode: Mode = { ...stageMode, namespace: 'benche2e' };
    prepareData(cfg, { database, namespace: e2eMode.namespace, resetTopics: true });
    const sql = postgres(env.DATABASE_URL, { max: 2, onnotice: () => {} });
    const { procs } = await startServices(cfg, e2eMode, {
      only: ['gateway', 'payment-provider', 'workers'],
      onLine: (service, line) => {
        if (/"level":"(error|fatal)"/.test(line)) process.stderr.write(`[${service}] ${line}\n`);
      },
    });
    const base = `http://127.0.0.1:${ports.gatewayPort}`;
    try {
      const users = await Promise.all(
        Array.from({ length: 50 }, () =>
          fetch(`${base}/api/v1/auth/dev-token`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ email: `bench-${randomUUID()}@example.com`, tier: 'enterprise' }),
          }).then((r) => r.json() as Promise<{ accessToken: string }>),
        ),
      );
      const total = RATE * SECONDS;
      const pids = Object.fromEntries(procs.map((p) => [p.def.name, p.child.pid]));
      const cpuAtStart = cpuSeconds(pids);
      const ids: string[] = [];
      const posts: Promise<void>[] = [];
      let failed = 0;
      const t0 = performance.now();
      for (let i = 0; i < total; i++) {
        // Open loop: each order leaves at its scheduled time, whatever the answers to earlier ones.
        const wait = t0 + (i * 1000) / RATE - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const u = users[i % users.length] as { accessToken: string };
        posts.push(
          fetch(`${base}/api/v1/orders`, {
            method: 'POST',
            headers: { authorization: `Bearer ${u.accessToken}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
            body: JSON.stringify({ items: [{ sku: 'MUG-BLUE', quantity: 1 }], paymentMethodToken: 'pm_card_visa' }),
          }).then(async (r) => {
            if (r.status === 201) ids.push(((await r.json()) as { id: string }).id);
            else failed += 1;
          }),
        );
      }
      await Promise.all(posts);
      const sendSeconds = (performance.now() - t0) / 1000;
      const { open } = await settle(sql, ids, 120_000, 250);
      const cpuAtEnd = cpuSeconds(pids);
      const lat = await placedToShipped(sql, ids);
      out(
        `   ${fmt(ids.length)} orders placed in ${sendSeconds.toFixed(1)} s (${failed} refused), ${fmt(lat.n)} shipped, ${open} not finished`,
      );
      out(`   CPU per order: ${perUnit(cpuAtStart, cpuAtEnd, ids.length, 1e3, 'ms')}`);
      const stats = await stageStats(metricsUrl);
      for (const stage of ['validator', 'payment', 'inventory', 'fulfillment', 'projector']) {
        const st = stats.get(stage) ?? none;
        const n = st.n;
        out(
          `   ${stage.padEnd(12)} ${fmt(n).padStart(6)} batches, ${(st.size / Math.max(1, n)).toFixed(1).padStart(5)} messages, ${((st.seconds / Math.max(1, n)) * 1000).toFixed(1).padStart(6)} ms each`,
        );
      }
      out(
        `   placed → shipped: p50 ${orZero(lat.p50).toFixed(0)} ms, p99 ${orZero(lat.p99).toFixed(0)} ms, max ${orZero(lat.max).toFixed(0)} ms (provider latency 20 ± 10 ms included)`,
      );
    } finally {
      await sql.end();
      await stopServices(procs);
    }
  }
}
process.exit(0);
