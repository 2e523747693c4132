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
import { ConsumerGroups, namespaced, Topics } from '@orders/contracts';
import { Kafka, logLevel } from 'kafkajs';
import postgres from 'postgres';
import { bootstrap, prepareData } from '../local/bootstrap.mjs';
import { recreateDatabase } from '../local/components/postgres.mjs';
import { type Mode, serviceEnv, startServices, stopServices } from '../local/services.mjs';
import { pipelineChart, type StepResult } from './chart';
import { BENCH_PORTS, cpuSeconds, devTokens, percentile, perUnit } from './lib';

const RATES = (process.env.BENCH_PIPELINE_RATES ?? '100,200,300,400,500,600,800,1000').split(',').map(Number);
const STEP_SECONDS = Number(process.env.BENCH_STEP_SECONDS ?? 10);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 15);
const USERS = 200;
/** Users with a webhook endpoint (at a local receiver) and, for the idle part, an open WebSocket. */
const WATCHED = 20;
const RECEIVER_PORT = 28100;
const out = (line = '') => process.stdout.write(`${line}\n`);
const ms = (n: number) => `${Math.round(n)} ms`;
const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');

const { cfg, registry } = await bootstrap();
const database = 'orders_bench';
recreateDatabase(cfg, database);
const mode: Mode = { database, namespace: 'benchp', stage: 'test', ports: BENCH_PORTS, registry, logLevel: 'warn' };
prepareData(cfg, { database, namespace: mode.namespace, seed: 'dev', resetTopics: true });
const env = serviceEnv(cfg, mode);
const sql = postgres(env.DATABASE_URL, { max: 2, onnotice: () => {} });
// Enough stock that no step runs out: this measures the happy path's speed.
await sql`UPDATE products SET stock = 1000000000 WHERE sku <> 'LAST-ONE'`;

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
const watched = [
  ...['validator', 'payment', 'inventory', 'fulfillment', 'projector'].map((s) => ({
    group: namespaced(ConsumerGroups[s as keyof typeof ConsumerGroups], mode.namespace),
    topic: namespaced(Topics.orderEvents, mode.namespace),
  })),
  { group: namespaced(ConsumerGroups.webhooks, mode.namespace), topic: namespaced(Topics.orderStatus, mode.namespace) },
];

/** Messages on the main topics not yet committed by each stage's group, summed. */
async function lag(): Promise<number> {
  let total = 0;
  const highs = new Map<string, Map<number, number>>();
  for (const { group, topic } of watched) {
    let high = highs.get(topic);
    if (!high) {
      high = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
      highs.set(topic, high);
    }
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    for (const p of committed?.partitions ?? []) total += Math.max(0, (high.get(p.partition) ?? 0) - Math.max(0, Number(p.offset)));
  }
  return total;
}

const { procs } = await startServices(cfg, mode, {
  // All the watchers connect from this one address, authenticating by their first frame.
  env: { WS_MAX_PENDING_PER_IP: String(WATCHED) },
  onLine: (service, line) => {
    if (/"level":"(error|fatal)"/.test(line)) process.stderr.write(`[${service}] ${line}\n`);
  },
});
const pids = Object.fromEntries(procs.map((p) => [p.def.name, p.child.pid]));
const base = `http://127.0.0.1:${BENCH_PORTS.gatewayPort}`;
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

  /** Each stage's batch count, messages and seconds so far, from the workers' metrics. */
  type StageStat = { n: number; size: number; seconds: number; phases: Record<string, number> };
  async function stageStats(): Promise<Map<string, StageStat>> {
    const text = await fetch(`http://127.0.0.1:${BENCH_PORTS.workerMetricsPort}/metrics`).then((r) => r.text());
    const stats = new Map<string, StageStat>();
    for (const line of text.split('\n')) {
      const phase = /^orders_worker_batch_phase_seconds_sum\{[^}]*stage="([a-z]+)"[^}]*phase="([a-z]+)"[^}]*\} (\S+)$/.exec(line);
      if (phase) {
        const st = stats.get(phase[1] as string) ?? { n: 0, size: 0, seconds: 0, phases: {} };
        st.phases[phase[2] as string] = Number(phase[3]);
        stats.set(phase[1] as string, st);
        continue;
      }
      const m = /^orders_worker_batch_(seconds_count|seconds_sum|size_sum)\{[^}]*stage="([a-z.]+)"[^}]*\} (\S+)$/.exec(line);
      if (!m) continue;
      const st = stats.get(m[2] as string) ?? { n: 0, size: 0, seconds: 0, phases: {} };
      if (m[1] === 'seconds_count') st.n = Number(m[3]);
      else if (m[1] === 'seconds_sum') st.seconds = Number(m[3]);
      else st.size = Number(m[3]);
      stats.set(m[2] as string, st);
    }
    return stats;
  }

  /** "validator 40 × 25 in 12 ms (prepare 3/apply 5/emit 4), …": batches, their size and time, over a step. */
  function batchStats(a: Awaited<ReturnType<typeof stageStats>>, b: Awaited<ReturnType<typeof stageStats>>): string {
    return [...b]
      .filter(([stage]) => !stage.endsWith('.retry'))
      .map(([stage, s]) => {
        const before = a.get(stage) ?? { n: 0, size: 0, seconds: 0, phases: {} };
        const n = s.n - before.n;
        if (n <= 0) return `${stage} none`;
        const each = (x: number) => ((x / n) * 1000).toFixed(0);
        const phases = Object.entries(s.phases)
          .map(([p, v]) => `${p} ${each(v - (before.phases[p] ?? 0))}`)
          .join('/');
        return `${stage} ${n} × ${((s.size - before.size) / n).toFixed(0)} in ${each(s.seconds - before.seconds)} ms (${phases})`;
      })
      .join(', ');
  }

  /** Waits until every given order is in a final state; resolves with how long that took. */
  async function settle(ids: string[], timeoutMs: number): Promise<{ open: number; ms: number }> {
    const t0 = Date.now();
    let open = ids.length;
    while (open > 0 && Date.now() - t0 < timeoutMs) {
      const [r] = await sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM orders WHERE id = ANY(${ids}::uuid[]) AND status NOT IN ('shipped', 'cancelled', 'rejected', 'failed')`;
      open = r?.n ?? ids.length;
      if (open > 0) await Bun.sleep(100);
    }
    return { open, ms: Date.now() - t0 };
  }

  async function placedToShipped(ids: string[]) {
    const [r] = await sql<{ n: number; p50: number; p99: number; max: number }[]>`
      SELECT count(*)::int AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max
      FROM (SELECT (extract(epoch FROM h.occurred_at - o.created_at) * 1000)::float8 AS ms
            FROM orders o JOIN order_status_history h ON h.order_id = o.id AND h.to_status = 'shipped'
            WHERE o.id = ANY(${ids}::uuid[])) t`;
    return { n: r?.n ?? 0, p50: r?.p50 ?? Number.NaN, p99: r?.p99 ?? Number.NaN, max: r?.max ?? Number.NaN };
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
    warm.placed.map((p) => p.id),
    30_000,
  );
  const idle = await offer(10, IDLE_SECONDS, users.slice(0, WATCHED));
  const idleIds = idle.placed.map((p) => p.id);
  await settle(idleIds, 30_000);
  const deadline = Date.now() + 5_000;
  while (shippedFrameAt.size < idleIds.length && Date.now() < deadline) await Bun.sleep(20);
  for (const ws of sockets) ws.close(1000, 'done');
  const idleLat = await placedToShipped(idleIds);
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
    const stats0 = await stageStats();
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
    const settled = await settle(ids, 60_000);
    let lagLeft = await lag();
    while (lagLeft > 0 && Date.now() - t0 < 60_000) {
      await Bun.sleep(100);
      lagLeft = await lag();
    }
    const drainMs = Date.now() - t0;
    const cpu1 = cpuSeconds(pids);
    const lat = await placedToShipped(ids);
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
    out(`         batches: ${batchStats(stats0, await stageStats())}`);
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
