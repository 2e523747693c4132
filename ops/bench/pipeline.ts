/**
 * `npm run bench:pipeline`: the whole platform on this machine (gateway, WebSocket edge, every worker
 * stage including the webhook fan-out and its sender, the simulated payment provider at 20 ± 10 ms),
 * driven by an open-loop order generator (each order leaves at its scheduled time, whatever the answers
 * to earlier ones), in three parts:
 *
 *   1. idle: 10 orders/s; placed → shipped (both stamped by PostgreSQL) and POST answered → the
 *      `shipped` frame on the owner's WebSocket, p50/p99.
 *   2. the ramp: the offered rate in steps (BENCH_PIPELINE_RATES, BENCH_STEP_SECONDS each). A step holds
 *      when placed → shipped p99 < 2 s and the consumer lag of every stage is back to 0 within 5 s after
 *      the step's last order. The knee is the highest rate that holds; the ramp stops at the first
 *      step that does not. CPU per order per process for each step.
 *   3. a chart of rate vs p50/p99 and drain time: `.local/artifacts/pipeline.svg` (and `.json`).
 *
 * Its own database (orders_bench) and namespace; traffic only to 127.0.0.1, bounded in count and time.
 * Runs on Bun (its fetch and WebSocket client keep the load generator's own CPU small).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startServices, stopServices } from '../local/services.mjs';
import { pipelineChart, type StepResult } from './chart';
import { consumerLag } from './consumer-lag';
import { benchEnv, listOf, num } from './env';
import { BENCH_PORTS, cpuSeconds, devTokens, percentile, perUnit } from './lib';
import { placedToShipped, settle } from './orders';
import { benchStack, stockedSql } from './stack';
import { batchStats, stageStats } from './worker-metrics';

const {
  BENCH_PIPELINE_RATES: RATES,
  BENCH_STEP_SECONDS: STEP_SECONDS,
  BENCH_IDLE_SECONDS: IDLE_SECONDS,
} = benchEnv({
  /** Offered orders/s of the ramp's steps, in order. */
  BENCH_PIPELINE_RATES: listOf(num({ above: 0 }), [100, 200, 300, 400, 500, 600, 800, 1000]),
  BENCH_STEP_SECONDS: num({ default: 10, above: 0 }),
  BENCH_IDLE_SECONDS: num({ default: 15, above: 0 }),
});
const USERS = 200;
/** Users with a webhook endpoint (at a local receiver) and, for the idle part, an open WebSocket. */
const WATCHED = 20;
const RECEIVER_PORT = 28100;
const out = (line = '') => process.stdout.write(`${line}\n`);
const ms = (n: number) => `${Math.round(n)} ms`;
const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');

const { cfg, mode, env } = await benchStack('benchp');
const sql = await stockedSql(env);

let delivered = 0;
const receiver = Bun.serve({
  hostname: '127.0.0.1',
  port: RECEIVER_PORT,
  fetch: async (req) => {
    await req.arrayBuffer();
    delivered += 1;
    return new Response(null, { status: 204 });
  },
});

const kafka = new Kafka({ clientId: 'bench-pipeline', brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const lag = consumerLag(admin, mode.namespace);

const { procs } = await startServices(cfg, mode, {
  // All the watchers connect from this one address, authenticating by their first frame.
  env: { WS_MAX_PENDING_PER_IP: String(WATCHED) },
  onLine: (service, line) => {
    if (/"level":"(error|fatal)"/.test(line)) process.stderr.write(`[${service}] ${line}\n`);
  },
});
const pids = Object.fromEntries(procs.map((p) => [p.def.name, p.child.pid]));
const base = `http://127.0.0.1:${BENCH_PORTS.gatewayPort}`;
const metricsUrl = `http://127.0.0.1:${BENCH_PORTS.workerMetricsPort}/metrics`;
const skus = ['MUG-BLUE', 'TEE-CLASSIC-M', 'TEE-CLASSIC-L', 'HOODIE-GREY-L', 'CAP-BLACK', 'SOCKS-3PACK', 'POSTER-A2'];

try {
  const users = await devTokens(base, USERS);
  for (const token of users.slice(0, WATCHED)) {
    const r = await fetch(`${base}/api/v1/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `http://127.0.0.1:${RECEIVER_PORT}/hook`, eventTypes: ['order.paid', 'order.shipped'] }),
    });
    if (r.status !== 201) throw new Error(`webhook registration answered ${r.status}: ${await r.text()}`);
  }

  /** Sends `rate` orders a second for `seconds`, open loop; resolves with what each POST answered. */
  async function offer(rate: number, seconds: number, tokens: string[]) {
    const total = Math.round(rate * seconds);
    const placed: { id: string; answeredAt: number; token: string }[] = [];
    const statuses = new Map<number, number>();
    const posts: Promise<void>[] = [];
    const t0 = performance.now();
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / rate;
      // Timers fire in ticks: send everything due, then sleep until the next order is due.
      if (due > performance.now()) await Bun.sleep(Math.max(0, due - performance.now()));
      const token = tokens[i % tokens.length] as string;
      const sku = skus[i % skus.length] as string;
      posts.push(
        fetch(`${base}/api/v1/orders`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
          body: JSON.stringify({ items: [{ sku, quantity: 1 }], paymentMethodToken: 'pm_card_visa' }),
        })
          .then(async (r) => {
            statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
            const body = (await r.json()) as { id?: string };
            if (r.status === 201 && body.id) placed.push({ id: body.id, answeredAt: performance.timeOrigin + performance.now(), token });
          })
          .catch(() => {
            statuses.set(0, (statuses.get(0) ?? 0) + 1);
          }),
      );
    }
    const sentSeconds = (performance.now() - t0) / 1000;
    await Promise.all(posts);
    return { placed, statuses, sentSeconds, offered: total };
  }

  // ── 1. Idle ──────────────────────────────────────────────────────────────────────────────────────
  out(`\n1. idle: 10 orders/s for ${IDLE_SECONDS} s, ${WATCHED} owners watching on WebSockets`);
  const shippedFrameAt = new Map<string, number>();
  const sockets = await Promise.all(
    users.slice(0, WATCHED).map(
      (token) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${BENCH_PORTS.wsEdgePort}/ws/orders`);
          ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
          ws.onmessage = (e) => {
            const f = JSON.parse(String(e.data)) as { type: string; status?: string; orderId?: string };
            if (f.type === 'ready') resolve(ws);
            if (f.type === 'order.status' && f.status === 'shipped' && f.orderId)
              shippedFrameAt.set(f.orderId, performance.timeOrigin + performance.now());
          };
          ws.onerror = () => reject(new Error('WebSocket failed'));
        }),
    ),
  );
  // Warm-up, not counted: the first orders after a start meet cold code paths and fresh connections.
  const warm = await offer(10, 2, users.slice(0, WATCHED));
  await settle(
    sql,
    warm.placed.map((p) => p.id),
    30_000,
  );
  const idle = await offer(10, IDLE_SECONDS, users.slice(0, WATCHED));
  const idleIds = idle.placed.map((p) => p.id);
  await settle(sql, idleIds, 30_000);
  const deadline = Date.now() + 5_000;
  while (shippedFrameAt.size < idleIds.length && Date.now() < deadline) await Bun.sleep(20);
  for (const ws of sockets) ws.close(1000, 'done');
  const idleLat = await placedToShipped(sql, idleIds);
  const toFrame = idle.placed
    .map((p) => (shippedFrameAt.get(p.id) ?? Number.NaN) - p.answeredAt)
    .filter((x) => Number.isFinite(x))
    .sort((a, b) => a - b);
  out(`   ${idleIds.length} orders; ${toFrame.length} shipped frames received`);
  out(
    `   placed → shipped: p50 ${ms(idleLat.p50)} (target ≤ 100 ms: ${mark(idleLat.p50 <= 100)}), p99 ${ms(idleLat.p99)} (target ≤ 250 ms: ${mark(idleLat.p99 <= 250)})`,
  );
  const frameP99 = percentile(toFrame, 99);
  out(
    `   POST answered → shipped frame: p50 ${ms(percentile(toFrame, 50))}, p99 ${ms(frameP99)} (target ≤ 300 ms: ${mark(toFrame.length === idleIds.length && frameP99 <= 300)})`,
  );

  // ── 2. The ramp ──────────────────────────────────────────────────────────────────────────────────
  out(`\n2. ramp: ${RATES.join(', ')} orders/s, ${STEP_SECONDS} s each; a step holds at p99 < 2 s and lag 0 within 5 s`);
  const steps: StepResult[] = [];
  for (const rate of RATES) {
    const cpu0 = cpuSeconds(pids);
    const stats0 = await stageStats(metricsUrl);
    let maxLag = 0;
    const sampling = setInterval(() => {
      lag()
        .then((n) => {
          maxLag = Math.max(maxLag, n);
        })
        .catch(() => {});
    }, 1_000);
    const step = await offer(rate, STEP_SECONDS, users);
    clearInterval(sampling);
    const ids = step.placed.map((p) => p.id);
    // Drained: every order of the step final, and every stage's committed offset at the end.
    const t0 = Date.now();
    const settled = await settle(sql, ids, 60_000);
    let lagLeft = await lag();
    while (lagLeft > 0 && Date.now() - t0 < 60_000) {
      await Bun.sleep(100);
      lagLeft = await lag();
    }
    const drainMs = Date.now() - t0;
    const cpu1 = cpuSeconds(pids);
    const lat = await placedToShipped(sql, ids);
    const refused = [...step.statuses].filter(([s]) => s !== 201).reduce((a, [, n]) => a + n, 0);
    const holds = settled.open === 0 && lagLeft === 0 && lat.p99 < 2_000 && drainMs <= 5_000 && refused === 0;
    const busy = ((cpu1.busy ?? 0) - (cpu0.busy ?? 0)) / Math.max(1, ids.length);
    steps.push({
      rate,
      achieved: ids.length / step.sentSeconds,
      p50: lat.p50,
      p99: lat.p99,
      drainMs,
      maxLag,
      holds,
      cpuMsPerOrder: busy * 1e3,
    });
    out(
      `   ${String(rate).padStart(5)}/s offered, ${(ids.length / step.sentSeconds).toFixed(0).padStart(5)}/s placed (${refused} refused): ` +
        `p50 ${ms(lat.p50)}, p99 ${ms(lat.p99)}, lag peak ${maxLag}, drained ${(drainMs / 1000).toFixed(1)} s after → ${holds ? 'holds' : 'does NOT hold'}`,
    );
    out(`         CPU per order: ${perUnit(cpu0, cpu1, ids.length, 1e3, 'ms')}`);
    out(`         batches: ${batchStats(stats0, await stageStats(metricsUrl))}`);
    if (!holds) break;
  }
  const knee = steps.filter((s) => s.holds).reduce((a, s) => Math.max(a, s.rate), 0);
  const atKnee = steps.find((s) => s.rate === knee);
  out(`\n   knee: ${knee} orders/s (target ≥ 1,000: ${mark(knee >= 1_000)}; minimum 500: ${mark(knee >= 500)})`);
  if (atKnee)
    out(
      `   whole machine at the knee: ${atKnee.cpuMsPerOrder.toFixed(1)} ms CPU per order (target ≤ 2 ms: ${mark(atKnee.cpuMsPerOrder <= 2)})`,
    );
  out(`   webhook deliveries received: ${delivered}`);

  // ── 3. The chart ─────────────────────────────────────────────────────────────────────────────────
  const dir = join(cfg.root, '.local/artifacts');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pipeline.svg'), pipelineChart(steps, knee));
  writeFileSync(
    join(dir, 'pipeline.json'),
    `${JSON.stringify({ at: new Date().toISOString(), idle: { ...idleLat, frameP99 }, steps, knee }, null, 2)}\n`,
  );
  out(`\n3. chart: ${join(dir, 'pipeline.svg')}`);
} finally {
  await stopServices(procs);
  await admin.disconnect();
  await sql.end();
  receiver.stop(true);
}
process.exit(0);
