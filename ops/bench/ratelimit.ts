/**
 * `npm run bench:ratelimit`: the rate limiter's accuracy and cost, in one run on this machine.
 *
 * 1. Accuracy, against the real Redis, for both algorithms: clients sending at exactly the allowed rate
 *    and 20 % above it for several windows. Each decision is judged against the exact definition (how
 *    many requests were admitted in the sliding window ending at the decision's own Redis timestamp):
 *    a false positive is a refusal while fewer than the limit were admitted; an over-admission is an
 *    admission while the limit was already reached. Targets: 0 false positives, over-admission ≤ 1 %.
 * 2. Cost: the gateway's throughput and p50/p99 on the same route with the limiter off and on, and the
 *    limiter's own latency (sequential calls, no load).
 * Loopback only, bounded in time.
 */
import { randomUUID } from 'node:crypto';
import { type Algorithm, createLogger, createMetrics, createRedis, RateLimiter, type Rule } from '@orders/platform';
import { bootstrap, prepareData } from '../local/bootstrap.mjs';
import { recreateDatabase } from '../local/components/postgres.mjs';
import { stackUrls } from '../local/config.mjs';
import { startServices, stopServices } from '../local/services.mjs';
import { autocannonSpec, benchEnv, int } from './env';
import { BENCH_PORTS, createUsers, load, percentile, type Row, table } from './lib';

const {
  ACCURACY_WINDOW_MS: WINDOW_MS,
  ACCURACY_LIMIT: LIMIT,
  ACCURACY_WINDOWS: WINDOWS,
  BENCH_SECONDS: SECONDS,
  BENCH_CONNECTIONS: CONNECTIONS,
} = benchEnv({
  /** The accuracy rule: LIMIT requests per WINDOW_MS, judged over WINDOWS windows. */
  ACCURACY_WINDOW_MS: int({ default: 1_000, min: 1 }),
  ACCURACY_LIMIT: int({ default: 20, min: 1 }),
  ACCURACY_WINDOWS: int({ default: 6, min: 1 }),
  /** The cost part: autocannon's duration and connections per run. */
  ...autocannonSpec,
});
const CLIENTS = 4;

const { cfg, registry } = await bootstrap();
const redis = createRedis({ url: stackUrls(cfg).REDIS_URL, connectionName: 'bench-ratelimit', commandTimeoutMs: 2_000 });
const logger = createLogger({ service: 'bench', level: 'warn' });

interface AccuracyRow {
  algorithm: Algorithm;
  rate: string;
  sent: number;
  admitted: number;
  falsePositives: number;
  overAdmitted: number;
  maxInWindow: number;
}

async function accuracy(algorithm: Algorithm, rateFactor: number): Promise<AccuracyRow> {
  const limiter = new RateLimiter({
    redis,
    algorithm,
    namespace: `bench${randomUUID().slice(0, 6)}`,
    timeoutMs: 1_000,
    metrics: createMetrics('bench', { defaultMetrics: false }),
    logger,
  });
  const rule: Rule = { limit: LIMIT, windowMs: WINDOW_MS };
  const subject = `u:${randomUUID()}`;
  const decisions: { at: number; allowed: boolean }[] = [];
  const gapMs = (WINDOW_MS / LIMIT / rateFactor) * CLIENTS;
  const end = Date.now() + WINDOWS * WINDOW_MS;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      // Clients start evenly spread over one gap, then each keeps its own cadence.
      let next = Date.now() + (gapMs / CLIENTS) * c;
      while (next < end) {
        const wait = next - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const d = await limiter.check(subject, [{ name: 'accuracy', rule }]);
        decisions.push({ at: d.at, allowed: d.allowed });
        next += gapMs;
      }
    }),
  );
  decisions.sort((a, b) => a.at - b.at);
  let falsePositives = 0;
  let overAdmitted = 0;
  let maxInWindow = 0;
  const admitted: number[] = [];
  for (const d of decisions) {
    const inWindow = admitted.filter((t) => t > d.at - WINDOW_MS).length;
    if (!d.allowed && inWindow < LIMIT) falsePositives++;
    if (d.allowed) {
      if (inWindow >= LIMIT) overAdmitted++;
      admitted.push(d.at);
      maxInWindow = Math.max(maxInWindow, inWindow + 1);
    }
  }
  return {
    algorithm,
    rate: `${Math.round(rateFactor * 100)} %`,
    sent: decisions.length,
    admitted: admitted.length,
    falsePositives,
    overAdmitted,
    maxInWindow,
  };
}

process.stdout.write(
  `\naccuracy: limit ${LIMIT} per ${WINDOW_MS} ms, ${CLIENTS} clients together at the given share of the allowed rate, ${WINDOWS} windows\n`,
);
const acc: AccuracyRow[] = [];
for (const algorithm of ['log', 'window'] as const) for (const factor of [1, 1.2]) acc.push(await accuracy(algorithm, factor));
const head = ['algorithm', 'rate', 'sent', 'admitted', 'false positives', 'admissions over the limit', 'worst window', 'over-admission'];
process.stdout.write(
  `${head.join('  ')}\n${acc
    .map((r) =>
      [
        r.algorithm.padEnd(9),
        r.rate.padStart(5),
        String(r.sent).padStart(4),
        String(r.admitted).padStart(8),
        String(r.falsePositives).padStart(15),
        String(r.overAdmitted).padStart(25),
        `${r.maxInWindow}/${LIMIT}`.padStart(12),
        `${((Math.max(0, r.maxInWindow - LIMIT) / LIMIT) * 100).toFixed(1)} %`.padStart(14),
      ].join('  '),
    )
    .join('\n')}\n`,
);

// The limiter's own latency: sequential calls with two limits (a tier and an endpoint), no other load.
const own = new RateLimiter({
  redis,
  algorithm: 'log',
  namespace: 'benchown',
  timeoutMs: 1_000,
  metrics: createMetrics('bench', { defaultMetrics: false }),
  logger,
});
const samples: number[] = [];
for (let i = 0; i < 3_000; i++) {
  const t0 = performance.now();
  await own.check(`u:${i % 200}`, [
    { name: 'tier:premium', rule: { limit: 1_000_000, windowMs: 60_000 } },
    { name: 'GET /api/v1/orders', rule: { limit: 1_000_000, windowMs: 60_000 } },
  ]);
  samples.push(performance.now() - t0);
}
samples.sort((a, b) => a - b);
const ownP99 = percentile(samples, 99);
process.stdout.write(
  `\nlimiter's own latency (3,000 sequential checks of 2 limits): p50 ${percentile(samples, 50).toFixed(3)} ms, p99 ${percentile(samples, 99).toFixed(3)} ms\n`,
);
await redis.quit();

// Gateway with the limiter off, then on, on the same cached read route.
const database = 'orders_bench';
recreateDatabase(cfg, database);
prepareData(cfg, { database, namespace: 'bench', seed: 'dev', resetTopics: true });
const ports = BENCH_PORTS;
const mode = { database, namespace: 'bench', stage: 'test' as const, ports, registry, logLevel: 'warn' };
const base = `http://127.0.0.1:${ports.gatewayPort}`;
const rows: Row[] = [];
for (const enabled of [false, true]) {
  const { procs } = await startServices(cfg, mode, {
    only: ['gateway'],
    onLine: () => {},
    // Premium users under a limit they never reach: the limiter runs its full check on every request.
    env: { RATE_LIMIT_ENABLED: String(enabled), RATE_LIMIT_TIER_PREMIUM: '100000000/1m' },
  });
  try {
    const users = await createUsers(base, 200, 'premium');
    let n = 0;
    const get = (req: object) => {
      const u = users[n++ % users.length] as { token: string; orderId: string };
      return { ...req, method: 'GET', path: `/api/v1/orders/${u.orderId}`, headers: { authorization: `Bearer ${u.token}` } };
    };
    await load({ name: 'warm-up', url: base, seconds: 2, connections: CONNECTIONS, setupRequest: get });
    rows.push(
      await load({
        name: `GET /api/v1/orders/:id, limiter ${enabled ? 'on' : 'off'}`,
        url: base,
        seconds: SECONDS,
        connections: CONNECTIONS,
        setupRequest: get,
      }),
    );
  } finally {
    await stopServices(procs);
  }
}
const [off, on] = rows as [Row, Row];
process.stdout.write(`\n${table(rows, off)}\n`);
const loss = (1 - on.rps / off.rps) * 100;
const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');
const exact = acc.filter((r) => r.algorithm === 'log');
const exactOk = exact.every((r) => r.falsePositives === 0 && r.overAdmitted === 0);
process.stdout.write(
  `${[
    'targets:',
    `  exact log: 0 false positives, 0 admissions over the limit → ${exact.map((r) => `${r.falsePositives}/${r.overAdmitted}`).join(', ')} ${mark(exactOk)}`,
    `  throughput loss with the limiter < 10 % → ${loss.toFixed(1)} % ${mark(loss < 10)}`,
    `  added p99 < 1 ms (the limiter's own p99, unloaded) → ${ownP99.toFixed(2)} ms ${mark(ownP99 < 1)}; ` +
      `under saturation p99 ${off.p99} → ${on.p99} ms (${CONNECTIONS} connections, ${SECONDS} s)`,
  ].join('\n')}\n`,
);
process.exit(0);
