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
import { ConsumerGroups, deadLetterTopic, namespaced, retryTopic, Topics } from '@orders/contracts';
import { Kafka, logLevel } from 'kafkajs';
import { startServices, stopServices } from '../local/services.mjs';
import { benchEnv, int, num } from './env';
import { BENCH_PORTS } from './lib';
import { registerEndpoints, tokenMinter, watchers as watch } from './soak/clients';
import { printWindow, writeArtifacts } from './soak/report';
import { type Sample, sampler } from './soak/sampling';
import { Traffic } from './soak/traffic';
import { verdict } from './soak/verdict';
import { summarise, type Window } from './soak/windows';
import { benchStack, stockedSql } from './stack';

const {
  SOAK_MINUTES: MINUTES,
  SOAK_WINDOWS: WINDOWS,
  SOAK_RATE: RATE,
  SOAK_READ_RATE: READ_RATE,
} = benchEnv({
  SOAK_MINUTES: num({ default: 30, above: 0 }),
  /** The verdict compares the second window with the last: three at least. */
  SOAK_WINDOWS: int({ default: 6, min: 3 }),
  /** Orders/s and reads/s, open loop. */
  SOAK_RATE: num({ default: 40, above: 0 }),
  SOAK_READ_RATE: num({ default: 160, above: 0 }),
});
const USERS = 200;
const WATCHERS = 20;
const ENDPOINTS = 20;
const RECEIVER_PORT = 28101;
const SAMPLE_MS = 10_000;
const windowMs = (MINUTES * 60_000) / WINDOWS;
const out = (line = '') => process.stdout.write(`${line}\n`);

const { cfg, mode, env } = await benchStack('soak');
const sql = await stockedSql(env);

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

const sample = sampler(sql, { dataDir: cfg.dataDir, redisPort: cfg.redis.port, namespace: mode.namespace, pids });

try {
  // Users, tokens (re-minted every 10 minutes: access tokens live 15), endpoints, watchers.
  const mint = tokenMinter(base, USERS);
  let tokens = await mint();
  await registerEndpoints(base, tokens.slice(0, ENDPOINTS), `http://127.0.0.1:${RECEIVER_PORT}/hook`);
  const { sockets: watchers, counts } = await watch(BENCH_PORTS.wsEdgePort, tokens.slice(0, WATCHERS));

  const t0 = Date.now();
  const traffic = new Traffic({ base, t0, rate: RATE, readRate: READ_RATE, users: USERS, skus, tokens: () => tokens });
  const end = t0 + MINUTES * 60_000;
  const samples: Sample[] = [await sample(0)];
  let nextSample = t0 + SAMPLE_MS;
  let nextMint = t0 + 10 * 60_000;
  let nextWindow = t0 + windowMs;
  const windows: Window[] = [];

  /** Summarises and prints the window that began `from` (a clock time), once its requests are answered. */
  async function closeWindow(from: number) {
    const w = await summarise(sql, traffic, { from, windowMs, n: windows.length + 1, sample: samples[samples.length - 1] as Sample });
    windows.push(w);
    printWindow(w, { from, t0, windowMs });
  }

  out(
    `\nsoak: ${MINUTES} min in ${WINDOWS} windows; ${RATE} orders/s, ${READ_RATE} reads/s, ${WATCHERS} WebSocket watchers, ${ENDPOINTS} webhook endpoints`,
  );
  while (Date.now() < end) {
    const now = Date.now();
    traffic.sendDue(now);
    if (traffic.inflight.length > 5_000) await traffic.settle();
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
  await traffic.settle();
  while (windows.length < WINDOWS) {
    samples.push(await sample(Date.now() - t0));
    await closeWindow(t0 + windows.length * windowMs);
  }
  for (const ws of watchers) ws.close(1000, 'done');

  const gone = procs.filter((p) => p.child.exitCode !== null || p.child.signalCode !== null).map((p) => p.def.name);
  const processes = Object.keys(pids);
  const { checks, pass } = verdict({ windows, samples, post: traffic.post, reads: traffic.reads, windowMs, processes, gone });
  out(
    `\nWebSocket: ${counts.frames} status frames to ${WATCHERS} watchers, ${counts.gaps} sequence gaps; webhooks: ${deliveries} deliveries received, ${refused} refused on purpose`,
  );
  out(`\nverdict:\n${checks.join('\n')}\n${pass ? 'PASS' : 'FAIL'}`);
  const chart = writeArtifacts(cfg.root, {
    minutes: MINUTES,
    rate: RATE,
    readRate: READ_RATE,
    windowMs,
    windows,
    samples,
    processes,
    pass,
  });
  out(`chart: ${chart}`);
  process.exitCode = pass ? 0 : 1;
} finally {
  await stopServices(procs);
  receiver.stop(true);
  await admin.disconnect();
  await sql.end();
}
process.exit(process.exitCode ?? 0);
