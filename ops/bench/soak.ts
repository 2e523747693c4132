/**
 * `npm run soak`: the whole platform under steady mixed load for SOAK_MINUTES (30 by default), with the
 * retention periods scaled down so several of them pass within the run: dedup records kept 60 s past their
 * stage's commits (+ 30 s re-send window), finished webhook messages 120 s, Kafka messages 120 s. Load,
 * open loop: SOAK_RATE orders/s (each with an Idempotency-Key), SOAK_READ_RATE reads/s (80 % an order by
 * id, 20 % a page of the user's orders), WebSocket watchers that re-authenticate before their token ends,
 * and webhook endpoints at a local receiver that refuses one delivery in ten (so retries and attempts
 * pile up as in life).
 *
 * Every 10 s it samples each process's RSS, every table's size, Redis memory and the Kafka log size of
 * its topics; per window (SOAK_WINDOWS of them, six by default: 5 minutes each) it prints POST and
 * placed → shipped p50/p99, throughput, the sizes, and the RSS. It passes when, from the second window on,
 * the retained state (dedup records, webhook messages and attempts, outbox, Redis, Kafka) stops growing
 * (the last window's end within 10 % of the second's), the last window's p99s are within 15 % of the
 * second's (over successful answers), no process's RSS trends upward beyond noise (a least-squares line over
 * the samples from the second window on rises less than max(5 %, 16 MiB) across them), at most 0.1 % of
 * requests failed, and every process ran to the end. Orders, their lines and history are
 * business data and grow by design; idempotency records are kept 24 h by contract (shown, not judged).
 * Chart and data: .local/artifacts/soak.svg and soak.json.
 *
 * Its own database (orders_bench) and namespace (soak); traffic only to 127.0.0.1, bounded in time.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConsumerGroups, deadLetterTopic, namespaced, retryTopic, Topics } from '@orders/contracts';
import { Kafka, logLevel } from 'kafkajs';
import postgres from 'postgres';
import { bootstrap, prepareData } from '../local/bootstrap.mjs';
import { recreateDatabase } from '../local/components/postgres.mjs';
import { type Mode, serviceEnv, startServices, stopServices } from '../local/services.mjs';
import { BENCH_PORTS, percentile } from './lib';
import { lineChart } from './line-chart';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 30);
const WINDOWS = Number(process.env.SOAK_WINDOWS ?? 6);
const RATE = Number(process.env.SOAK_RATE ?? 40);
const READ_RATE = Number(process.env.SOAK_READ_RATE ?? 160);
const USERS = 200;
const WATCHERS = 20;
const ENDPOINTS = 20;
const RECEIVER_PORT = 28101;
const SAMPLE_MS = 10_000;
const windowMs = (MINUTES * 60_000) / WINDOWS;
const out = (line = '') => process.stdout.write(`${line}\n`);
const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');
const MiB = 1024 * 1024;

const { cfg, registry } = await bootstrap();
const database = 'orders_bench';
recreateDatabase(cfg, database);
const mode: Mode = { database, namespace: 'soak', stage: 'test', ports: BENCH_PORTS, registry, logLevel: 'warn' };
prepareData(cfg, { database, namespace: mode.namespace, seed: 'dev', resetTopics: true });
const env = serviceEnv(cfg, mode);
const sql = postgres(env.DATABASE_URL, { max: 2, onnotice: () => {} });
await sql`UPDATE products SET stock = 1000000000 WHERE sku <> 'LAST-ONE'`;

// Kafka retention scaled down like the rest: messages kept 120 s, in segments of 30 s (only whole
// segments are deleted), on every topic of the run's namespace.
const kafka = new Kafka({ clientId: 'soak', brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const topics = [
  Topics.orderEvents,
  Topics.orderStatus,
  ...Object.values(ConsumerGroups).flatMap((g) => [retryTopic(g), deadLetterTopic(g)]),
].map((t) => namespaced(t, mode.namespace));
await admin.alterConfigs({
  validateOnly: false,
  resources: topics.map((name) => ({
    type: 2, // TOPIC
    name,
    configEntries: [
      { name: 'retention.ms', value: '120000' },
      { name: 'segment.ms', value: '30000' },
    ],
  })),
});

let deliveries = 0;
let refused = 0;
const receiver = Bun.serve({
  hostname: '127.0.0.1',
  port: RECEIVER_PORT,
  fetch: async (req) => {
    await req.arrayBuffer();
    deliveries += 1;
    if (deliveries % 10 === 0) {
      refused += 1;
      return new Response('try later', { status: 500 });
    }
    return new Response(null, { status: 204 });
  },
});

const { procs } = await startServices(cfg, mode, {
  env: {
    WS_MAX_PENDING_PER_IP: String(WATCHERS),
    RETENTION_INTERVAL_MS: '10000',
    DEDUP_MIN_AGE_MS: '60000',
    DEDUP_RESEND_WINDOW_MS: '30000',
    WEBHOOK_RETENTION_MS: '120000',
    // Each user's status feed keeps 100 updates (1,000 by default): full within the first window here.
    STATUS_FEED_MAXLEN: '100',
    // The simulated provider forgets keys and charges after 120 s (24 h by default).
    PAYMENT_RETENTION_MS: '120000',
  },
  onLine: (service, line) => {
    if (/"level":"(error|fatal)"/.test(line)) process.stderr.write(`[${service}] ${line}\n`);
  },
});
const pids = Object.fromEntries(procs.map((p) => [p.def.name, p.child.pid as number]));
const base = `http://127.0.0.1:${BENCH_PORTS.gatewayPort}`;
const skus = ['MUG-BLUE', 'TEE-CLASSIC-M', 'TEE-CLASSIC-L', 'HOODIE-GREY-L', 'CAP-BLACK', 'SOCKS-3PACK', 'POSTER-A2'];

/** Resident memory of a process, in bytes (0 once it has gone). */
function rss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Bytes on disk of the run's topics in the broker's log directory. */
function kafkaBytes(): number {
  const dir = join(cfg.dataDir, 'kafka');
  const mine = readdirSync(dir).filter((d) => d.startsWith(`${mode.namespace}.`));
  if (mine.length === 0) return 0;
  // Blocks in use, not apparent sizes: Kafka preallocates its index files sparsely (10 MB each).
  const text = execFileSync('du', ['-skc', ...mine], { cwd: dir, encoding: 'utf8' });
  return Number(/(\d+)\s+total/.exec(text)?.[1] ?? 0) * 1024;
}

async function redisBytes(): Promise<number> {
  const text = execFileSync('redis-cli', ['-p', String(cfg.redis.port), 'info', 'memory'], { encoding: 'utf8' });
  return Number(/used_memory:(\d+)/.exec(text)?.[1] ?? 0);
}

const RETAINED = ['processed_events', 'webhook_messages', 'webhook_attempts', 'outbox'] as const;
const BUSINESS = ['orders', 'order_items', 'order_status_history', 'idempotency_keys'] as const;

interface Sample {
  t: number;
  rss: Record<string, number>;
  tables: Record<string, { bytes: number; rows: number }>;
  redis: number;
  kafka: number;
}

async function sample(t: number): Promise<Sample> {
  const rows = await sql<{ name: string; bytes: string; rows: number }[]>`
    SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes,
           (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I', c.relname), false, true, '')))[1]::text::int AS rows
    FROM pg_class c WHERE c.relname = ANY(${[...RETAINED, ...BUSINESS]}) AND c.relkind IN ('r', 'p')`;
  return {
    t,
    rss: Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, rss(pid)])),
    tables: Object.fromEntries(rows.map((r) => [r.name, { bytes: Number(r.bytes), rows: r.rows }])),
    redis: await redisBytes(),
    kafka: kafkaBytes(),
  };
}

const retainedBytes = (s: Sample) => RETAINED.reduce((sum, t) => sum + (s.tables[t]?.bytes ?? 0), 0) + s.redis + s.kafka;

try {
  // Users, tokens (re-minted every 10 minutes: access tokens live 15), endpoints, watchers.
  const emails = Array.from({ length: USERS }, () => `soak-${crypto.randomUUID()}@example.com`);
  const mint = async () => {
    const tokens: string[] = [];
    for (let i = 0; i < emails.length; i += 50)
      tokens.push(
        ...(await Promise.all(
          emails.slice(i, i + 50).map(async (email) => {
            const r = await fetch(`${base}/api/v1/auth/dev-token`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ email, tier: 'enterprise' }),
            });
            return ((await r.json()) as { accessToken: string }).accessToken;
          }),
        )),
      );
    return tokens;
  };
  let tokens = await mint();
  for (const token of tokens.slice(0, ENDPOINTS)) {
    const r = await fetch(`${base}/api/v1/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `http://127.0.0.1:${RECEIVER_PORT}/hook`, eventTypes: ['order.paid', 'order.shipped'] }),
    });
    if (r.status !== 201) throw new Error(`webhook registration answered ${r.status}: ${await r.text()}`);
  }
  let frames = 0;
  let gaps = 0;
  const watchers = await Promise.all(
    tokens.slice(0, WATCHERS).map(
      (token) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${BENCH_PORTS.wsEdgePort}/ws/orders`);
          let last = -1;
          ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
          ws.onmessage = (e) => {
            const f = JSON.parse(String(e.data)) as { type: string; seq?: number };
            if (f.type === 'ready') {
              if (last < 0) last = f.seq ?? 0;
              resolve(ws);
            }
            if (f.type === 'order.status' && typeof f.seq === 'number') {
              frames += 1;
              if (last >= 0 && f.seq !== last + 1) gaps += 1;
              last = f.seq;
            }
          };
          ws.onerror = () => reject(new Error('WebSocket failed'));
        }),
    ),
  );

  const recent = new Map<number, string[]>(); // user index → their latest order ids
  const post: { at: number; ms: number; status: number }[] = [];
  const reads: { at: number; ms: number; status: number }[] = [];
  const placed: { at: number; id: string }[] = [];
  const inflight: Promise<void>[] = [];
  const t0 = Date.now();
  const end = t0 + MINUTES * 60_000;
  const samples: Sample[] = [await sample(0)];
  let nextSample = t0 + SAMPLE_MS;
  let nextMint = t0 + 10 * 60_000;
  let nextWindow = t0 + windowMs;
  let sent = 0;
  let readsSent = 0;
  const windows: {
    n: number;
    post: { p50: number; p99: number; ok: number };
    read: { p50: number; p99: number; ok: number };
    e2e: { n: number; p50: number; p99: number };
    sample: Sample;
  }[] = [];

  /** Summarises the window that began `from` (a clock time), once its requests are answered. */
  async function closeWindow(from: number) {
    await Promise.all(inflight.splice(0));
    const stats = (xs: { at: number; ms: number; status: number }[]) => {
      const mine = xs.filter((x) => x.at >= from && x.at < from + windowMs);
      // Latency of the answers that succeeded: a fast failure must not make a window look quicker.
      const good = mine.filter((x) => x.status > 0 && x.status < 400);
      const ms = good.map((x) => x.ms).sort((a, b) => a - b);
      return { p50: percentile(ms, 50), p99: percentile(ms, 99), ok: good.length };
    };
    // Orders of the window's last 5 s may still be on their way: they are left out, not counted as fast.
    const ids = placed.filter((p) => p.at >= from && p.at < from + windowMs - 5_000).map((p) => p.id);
    const [e2e] = await sql<{ n: number; p50: number; p99: number }[]>`
      SELECT count(*)::int AS n,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
      FROM (SELECT extract(epoch FROM h.occurred_at - o.created_at) * 1000 AS ms
            FROM orders o JOIN order_status_history h ON h.order_id = o.id AND h.to_status = 'shipped'
            WHERE o.id = ANY(${ids}::uuid[])) x`;
    const s = samples[samples.length - 1] as Sample;
    const w = {
      n: windows.length + 1,
      post: stats(post),
      read: stats(reads),
      e2e: { n: e2e?.n ?? 0, p50: Number(e2e?.p50 ?? Number.NaN), p99: Number(e2e?.p99 ?? Number.NaN) },
      sample: s,
    };
    windows.push(w);
    const mb = (b: number) => `${(b / MiB).toFixed(1)} MB`;
    const seconds = windowMs / 1000;
    out(
      `window ${w.n} (${Math.round((from - t0) / 1000)}–${Math.round((from + windowMs - t0) / 1000)} s): ` +
        `POST ${(w.post.ok / seconds).toFixed(0)}/s p50 ${w.post.p50.toFixed(0)} p99 ${w.post.p99.toFixed(0)} ms; ` +
        `reads ${(w.read.ok / seconds).toFixed(0)}/s p99 ${w.read.p99.toFixed(0)} ms; ` +
        `placed → shipped ${w.e2e.n} p50 ${w.e2e.p50.toFixed(0)} p99 ${w.e2e.p99.toFixed(0)} ms`,
    );
    out(
      `  retained: ${RETAINED.map((t) => `${t} ${s.tables[t]?.rows ?? 0} rows ${mb(s.tables[t]?.bytes ?? 0)}`).join(', ')}, ` +
        `Redis ${mb(s.redis)}, Kafka ${mb(s.kafka)}`,
    );
    out(`  business: ${BUSINESS.map((t) => `${t} ${s.tables[t]?.rows ?? 0} rows ${mb(s.tables[t]?.bytes ?? 0)}`).join(', ')}`);
    out(
      `  RSS: ${Object.entries(s.rss)
        .map(([n, b]) => `${n} ${mb(b)}`)
        .join(', ')}`,
    );
  }

  out(
    `\nsoak: ${MINUTES} min in ${WINDOWS} windows; ${RATE} orders/s, ${READ_RATE} reads/s, ${WATCHERS} WebSocket watchers, ${ENDPOINTS} webhook endpoints`,
  );
  while (Date.now() < end) {
    const now = Date.now();
    // Open loop: send whatever is due by now, orders and reads at their own rates.
    const dueOrders = Math.floor(((now - t0) / 1000) * RATE);
    for (; sent < dueOrders; sent++) {
      const u = sent % USERS;
      const scheduled = t0 + (sent * 1000) / RATE;
      inflight.push(
        fetch(`${base}/api/v1/orders`, {
          method: 'POST',
          headers: { authorization: `Bearer ${tokens[u]}`, 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
          body: JSON.stringify({ items: [{ sku: skus[sent % skus.length], quantity: 1 }], paymentMethodToken: 'pm_card_visa' }),
        })
          .then(async (r) => {
            const b = (await r.json()) as { id?: string };
            post.push({ at: scheduled, ms: Date.now() - scheduled, status: r.status });
            if (r.status === 201 && b.id) {
              placed.push({ at: scheduled, id: b.id });
              const list = recent.get(u) ?? [];
              list.push(b.id);
              if (list.length > 5) list.shift();
              recent.set(u, list);
            }
          })
          .catch(() => void post.push({ at: scheduled, ms: Date.now() - scheduled, status: 0 })),
      );
    }
    const dueReads = Math.floor(((now - t0) / 1000) * READ_RATE);
    for (; readsSent < dueReads; readsSent++) {
      const u = (readsSent * 7) % USERS;
      const scheduled = t0 + (readsSent * 1000) / READ_RATE;
      const ids = recent.get(u);
      const path = readsSent % 5 === 0 || !ids?.length ? '/api/v1/orders?limit=20' : `/api/v1/orders/${ids[readsSent % ids.length]}`;
      inflight.push(
        fetch(`${base}${path}`, { headers: { authorization: `Bearer ${tokens[u]}` } })
          .then(async (r) => {
            await r.arrayBuffer();
            reads.push({ at: scheduled, ms: Date.now() - scheduled, status: r.status });
          })
          .catch(() => void reads.push({ at: scheduled, ms: Date.now() - scheduled, status: 0 })),
      );
    }
    if (inflight.length > 5_000) await Promise.all(inflight.splice(0));
    if (now >= nextMint) {
      nextMint += 10 * 60_000;
      tokens = await mint();
      // Watchers re-authenticate on their socket before the old token ends.
      for (const [i, ws] of watchers.entries()) ws.send(JSON.stringify({ type: 'auth', token: tokens[i] }));
    }
    if (now >= nextSample) {
      nextSample += SAMPLE_MS;
      samples.push(await sample(now - t0));
    }
    if (now >= nextWindow) {
      nextWindow += windowMs;
      await closeWindow(nextWindow - 2 * windowMs);
    }
    await Bun.sleep(5);
  }
  await Promise.all(inflight.splice(0));
  while (windows.length < WINDOWS) {
    samples.push(await sample(Date.now() - t0));
    await closeWindow(t0 + windows.length * windowMs);
  }
  for (const ws of watchers) ws.close(1000, 'done');

  // Judgement, from the second window on.
  const second = windows[1];
  const last = windows[windows.length - 1];
  const checks: string[] = [];
  let pass = true;
  const judge = (ok: boolean, text: string) => {
    pass &&= ok;
    checks.push(`  ${text} → ${mark(ok)}`);
  };
  if (!second || !last || windows.length < 3) throw new Error('the soak needs at least three windows');
  const grow = retainedBytes(last.sample) / Math.max(1, retainedBytes(second.sample));
  judge(
    grow <= 1.1,
    `retained state stops growing: ${(retainedBytes(second.sample) / MiB).toFixed(1)} MB after window 2, ${(retainedBytes(last.sample) / MiB).toFixed(1)} MB at the end (×${grow.toFixed(2)}, at most ×1.10)`,
  );
  for (const t of RETAINED) {
    const a = second.sample.tables[t]?.rows ?? 0;
    const b = last.sample.tables[t]?.rows ?? 0;
    checks.push(`    ${t}: ${a} → ${b} rows`);
  }
  judge(
    last.post.p99 <= second.post.p99 * 1.15,
    `POST p99 of the last window within 15 % of the second's: ${second.post.p99.toFixed(0)} → ${last.post.p99.toFixed(0)} ms`,
  );
  judge(
    last.e2e.p99 <= second.e2e.p99 * 1.15,
    `placed → shipped p99 of the last window within 15 % of the second's: ${second.e2e.p99.toFixed(0)} → ${last.e2e.p99.toFixed(0)} ms`,
  );
  const failedPosts = post.filter((p) => p.status === 0 || p.status >= 500).length;
  const failedReads = reads.filter((r) => r.status === 0 || r.status >= 500).length;
  judge(
    failedPosts + failedReads <= (post.length + reads.length) / 1000,
    `failed requests at most 0.1 %: ${failedPosts} POST and ${failedReads} reads of ${post.length + reads.length}`,
  );
  const gone = procs.filter((p) => p.child.exitCode !== null || p.child.signalCode !== null).map((p) => p.def.name);
  judge(gone.length === 0, `every process ran to the end${gone.length > 0 ? `: ${gone.join(', ')} exited` : ''}`);
  const later = samples.filter((s) => s.t >= windowMs);
  for (const name of Object.keys(pids)) {
    const xs = later.map((s) => s.t / 1000);
    const ys = later.map((s) => s.rss[name] ?? 0);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const slope =
      xs.reduce((a, x, i) => a + (x - mx) * ((ys[i] as number) - my), 0) /
      Math.max(
        1e-9,
        xs.reduce((a, x) => a + (x - mx) ** 2, 0),
      );
    const rise = slope * ((xs[xs.length - 1] ?? 0) - (xs[0] ?? 0));
    const allowed = Math.max(0.05 * my, 16 * MiB);
    judge(
      rise < allowed,
      `${name} RSS flat: trend ${(rise / MiB).toFixed(1)} MB across the run from window 2 (mean ${(my / MiB).toFixed(0)} MB; allowed < ${(allowed / MiB).toFixed(0)} MB)`,
    );
  }
  out(
    `\nWebSocket: ${frames} status frames to ${WATCHERS} watchers, ${gaps} sequence gaps; webhooks: ${deliveries} deliveries received, ${refused} refused on purpose`,
  );
  out(`\nverdict:\n${checks.join('\n')}\n${pass ? 'PASS' : 'FAIL'}`);

  const artifacts = join(cfg.root, '.local/artifacts');
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(
    join(artifacts, 'soak.json'),
    JSON.stringify({ minutes: MINUTES, rate: RATE, readRate: READ_RATE, windows, samples, pass }, null, 1),
  );
  const minutes = samples.map((s) => s.t / 60_000);
  writeFileSync(
    join(artifacts, 'soak.svg'),
    lineChart(`soak: ${MINUTES} min, ${RATE} orders/s + ${READ_RATE} reads/s`, [
      {
        title: 'retained state (MB)',
        x: minutes,
        series: [
          ...RETAINED.map((t) => ({ label: t, values: samples.map((s) => (s.tables[t]?.bytes ?? 0) / MiB) })),
          { label: 'Redis', values: samples.map((s) => s.redis / MiB) },
          { label: 'Kafka', values: samples.map((s) => s.kafka / MiB) },
        ],
      },
      {
        title: 'RSS (MB)',
        x: minutes,
        series: Object.keys(pids).map((name) => ({ label: name, values: samples.map((s) => (s.rss[name] ?? 0) / MiB) })),
      },
      {
        title: 'p99 per window (ms)',
        x: windows.map((w) => (w.n * windowMs) / 60_000),
        series: [
          { label: 'POST', values: windows.map((w) => w.post.p99) },
          { label: 'placed → shipped', values: windows.map((w) => w.e2e.p99) },
        ],
      },
    ]),
  );
  out(`chart: ${join(artifacts, 'soak.svg')}`);
  process.exitCode = pass ? 0 : 1;
} finally {
  await stopServices(procs);
  receiver.stop(true);
  await admin.disconnect();
  await sql.end();
}
process.exit(process.exitCode ?? 0);
