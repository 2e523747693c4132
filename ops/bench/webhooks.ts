/**
 * `npm run bench:webhooks`: the webhook dispatcher's sender (the same class the workers run, in this
 * process, against its own database), in one run:
 *   0. baseline: the same signed POSTs straight to the fast receiver, same concurrency and connection
 *      settings (a connection per request), no database: what the HTTP side alone allows here;
 *   1. deliveries/s to a fast local receiver (204 at once), BENCH_HOOK_MESSAGES messages over
 *      BENCH_HOOK_ENDPOINTS endpoints, each claimed, sent, and recorded with its attempt;
 *   2. the same with one slow endpoint beside them (every answer after BENCH_HOOK_SLOW_MS): the fast
 *      endpoints' deliveries/s, and how far the slow one got.
 * Loopback only; bounded in count and time.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { createLogger, createMetrics, DestinationPolicy, generateSecret, SecretBox, sign, uuidv7 } from '@orders/platform';
import postgres from 'postgres';
import { WebhookSender } from '../../workers/src/stages/webhooks/sender';
import { bootstrap, prepareData } from '../local/bootstrap.mjs';
import { recreateDatabase } from '../local/components/postgres.mjs';
import { serviceEnv } from '../local/services.mjs';
import { benchEnv, int } from './env';

const {
  BENCH_HOOK_MESSAGES: MESSAGES,
  BENCH_HOOK_ENDPOINTS: ENDPOINTS,
  BENCH_HOOK_SLOW_MS: SLOW_MS,
  BENCH_HOOK_CONCURRENCY: CONCURRENCY,
} = benchEnv({
  BENCH_HOOK_MESSAGES: int({ default: 10_000, min: 1 }),
  BENCH_HOOK_ENDPOINTS: int({ default: 20, min: 1 }),
  /** How long the slow endpoint takes to answer each delivery. */
  BENCH_HOOK_SLOW_MS: int({ default: 2_000, min: 0 }),
  /** Sends in flight at once, for the baseline and the sender alike. */
  BENCH_HOOK_CONCURRENCY: int({ default: 64, min: 1 }),
});
const PER_ENDPOINT = 4;
const out = (line = '') => process.stdout.write(`${line}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function receiver(delayMs: number): Promise<{ server: Server; port: number; count: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n += 1;
      setTimeout(() => res.writeHead(204).end(), delayMs);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port, count: () => n })),
  );
}

const { cfg, registry } = await bootstrap();
const database = 'orders_bench';
recreateDatabase(cfg, database);
prepareData(cfg, { database, namespace: 'benchhooks', seed: 'dev', resetTopics: false });
const env = serviceEnv(cfg, { database, namespace: 'benchhooks', stage: 'test', ports: cfg.testServices, registry });
const sql = postgres(env.DATABASE_URL, { max: 8, onnotice: () => {} });
const box = new SecretBox(readFileSync(env.WEBHOOK_SECRET_KEY_FILE, 'utf8'));
const fast = await receiver(0);
const slow = await receiver(SLOW_MS);
const body = JSON.stringify({
  type: 'order.shipped',
  timestamp: new Date().toISOString(),
  data: { orderId: randomUUID(), status: 'shipped' },
});

try {
  // 0. Baseline: signed POSTs, a connection each (as the sender does), CONCURRENCY at a time.
  const secret = generateSecret();
  let sent = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (sent < MESSAGES) {
        sent += 1;
        const id = `msg_${randomUUID().replaceAll('-', '')}`;
        const ts = Math.floor(Date.now() / 1000);
        await new Promise<void>((resolve, reject) => {
          const req = request(
            {
              host: '127.0.0.1',
              port: fast.port,
              path: '/hooks',
              method: 'POST',
              agent: false,
              headers: {
                'content-type': 'application/json',
                'webhook-id': id,
                'webhook-timestamp': String(ts),
                'webhook-signature': sign([secret], id, ts, body),
              },
            },
            (res) => {
              res.resume();
              res.on('end', resolve);
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      }
    }),
  );
  const baseline = MESSAGES / ((performance.now() - t0) / 1000);

  const [user] = await sql<{ id: string }[]>`
    INSERT INTO users (id, email, role, tier) VALUES (${uuidv7()}, ${`bench-${randomUUID()}@example.com`}, 'customer', 'standard') RETURNING id`;
  const makeEndpoints = async (n: number, port: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = uuidv7();
      await sql`INSERT INTO webhook_endpoints (id, user_id, url, event_types, secret_sealed)
                VALUES (${id}, ${user?.id as string}, ${`http://127.0.0.1:${port}/hooks`}, ${['order.shipped']}, ${box.seal(generateSecret())})`;
      ids.push(id);
    }
    return ids;
  };
  const enqueue = async (endpointIds: string[], count: number) => {
    const rows = Array.from({ length: count }, (_, i) => ({
      id: randomUUID(),
      endpoint_id: endpointIds[i % endpointIds.length],
      event_id: randomUUID(),
    }));
    for (let i = 0; i < rows.length; i += 2_000) {
      await sql`INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, payload)
                SELECT r.id, r.endpoint_id, r.event_id, 'order.shipped', ${sql.json(JSON.parse(body))}
                FROM jsonb_to_recordset(${sql.json(rows.slice(i, i + 2_000) as never)}::jsonb) AS r(id uuid, endpoint_id uuid, event_id uuid)`;
    }
  };
  const succeeded = async (endpointIds: string[]) =>
    Number(
      (
        await sql<
          { n: number }[]
        >`SELECT count(*)::int AS n FROM webhook_messages WHERE status = 'succeeded' AND endpoint_id IN ${sql(endpointIds)}`
      )[0]?.n ?? 0,
    );
  const sender = () =>
    new WebhookSender({
      sql: sql as never,
      box,
      policy: new DestinationPolicy(['127.0.0.1'], false),
      logger: createLogger({ service: 'bench-webhooks', level: 'warn' }),
      metrics: createMetrics('bench', { defaultMetrics: false }),
      timeScale: 1,
      timeoutMs: SLOW_MS + 5_000,
      concurrency: CONCURRENCY,
      maxInFlightPerEndpoint: PER_ENDPOINT,
      pollMs: 50,
      breakerFailures: 5,
      breakerCooldownMs: 60_000,
      disableAfterFailures: 50,
      disableAfterMs: 5 * 24 * 3_600_000,
    });

  // 1. Fast endpoints only.
  const fastIds = await makeEndpoints(ENDPOINTS, fast.port);
  await enqueue(fastIds, MESSAGES);
  let s = sender();
  let t1 = performance.now();
  await s.start();
  while ((await succeeded(fastIds)) < MESSAGES && performance.now() - t1 < 120_000) await new Promise((r) => setTimeout(r, 100));
  const alone = (await succeeded(fastIds)) / ((performance.now() - t1) / 1000);
  await s.stop();

  // 2. The same again, with one slow endpoint holding its leases the whole time.
  const fastIds2 = await makeEndpoints(ENDPOINTS, fast.port);
  const slowIds = await makeEndpoints(1, slow.port);
  await enqueue(slowIds, 200);
  await enqueue(fastIds2, MESSAGES);
  s = sender();
  t1 = performance.now();
  await s.start();
  while ((await succeeded(fastIds2)) < MESSAGES && performance.now() - t1 < 120_000) await new Promise((r) => setTimeout(r, 100));
  const seconds = (performance.now() - t1) / 1000;
  const beside = (await succeeded(fastIds2)) / seconds;
  const slowDone = await succeeded(slowIds);
  await s.stop();

  out('\nwebhook dispatcher (sender in this process; PostgreSQL, the receivers and this process share 2 cores)');
  out(`  baseline, signed POSTs without the dispatcher (${CONCURRENCY} at a time, a connection each): ${fmt(baseline)}/s`);
  out(
    `  dispatcher, ${fmt(MESSAGES)} messages over ${ENDPOINTS} fast endpoints: ${fmt(alone)} deliveries/s = ${(alone / baseline).toFixed(2)} × baseline`,
  );
  out(
    `  with one slow endpoint (${SLOW_MS} ms per answer) beside them: fast endpoints ${fmt(beside)} deliveries/s = ${(beside / alone).toFixed(2)} × without it; ` +
      `the slow one ${slowDone} delivered in ${seconds.toFixed(1)} s (${PER_ENDPOINT} in flight at most, as bounded)`,
  );
} finally {
  fast.server.close();
  slow.server.closeAllConnections?.();
  slow.server.close();
  await sql.end({ timeout: 5 });
}
process.exit(0);
