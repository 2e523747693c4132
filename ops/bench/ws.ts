/**
 * `npm run bench:ws`: one ws-edge process, in one run:
 *   1. connections held: as many `/ws/orders` sockets as this machine lets one process open (the
 *      target is 50,000), from several client processes on several loopback source addresses, five
 *      sockets per user (the per-user limit, enforced through Redis as in production);
 *   2. memory per connection: the edge's resident memory before and after, divided by the sockets;
 *   3. publish → client delivery latency at fixed message rates across those sockets (each message to
 *      one user, so to that user's five sockets), next to the baseline measured on the same messages
 *      at the same time: a plain Redis subscriber (the floor any edge stands on).
 * Targets: 50,000 connections (stretch 100,000); delivery p99 < 100 ms (stretch < 20 ms).
 * Traffic stays on 127.0.0.0/8; every phase is bounded in time.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRedis, createSigner, feedKeys, parseSigningKey } from '@orders/platform';
import { bootstrap } from '../local/bootstrap.mjs';
import { serviceEnv, startServices, stopServices } from '../local/services.mjs';
import { benchEnv, int, listOf } from './env';
import { BENCH_PORTS } from './lib';

const PER_USER = 5;
const ports = BENCH_PORTS;
const NAMESPACE = 'benchws';

/** This process's open-files limit: the edge inherits it, and holds one descriptor per socket. */
function fdLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? 1024);
}
const limit = fdLimit();
const {
  BENCH_WS_CLIENTS: CLIENTS,
  BENCH_WS_RATES: RATES,
  BENCH_WS_SECONDS: SECONDS,
  BENCH_WS_CONNECTIONS: wanted,
} = benchEnv({
  /** Client processes, each on its own loopback source address (127.0.0.2, .3, …). */
  BENCH_WS_CLIENTS: int({ default: 4, min: 1, max: 253 }),
  /** Published messages/s of the latency part, one run each. */
  BENCH_WS_RATES: listOf(int({ min: 1 }), [1000, 5000]),
  BENCH_WS_SECONDS: int({ default: 10, min: 1 }),
  // The edge needs a few dozen descriptors of its own (Redis, listen socket, stdio, Bun's internals).
  BENCH_WS_CONNECTIONS: int({ default: Math.min(50_000, limit - 200), min: PER_USER }),
});
const users = Math.floor(wanted / PER_USER);
const total = users * PER_USER;

const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const now = () => performance.timeOrigin + performance.now();
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const ms = (n: number) => n.toFixed(n < 10 ? 2 : 1);

const { cfg, registry } = await bootstrap();
const mode = { database: 'orders_bench', namespace: NAMESPACE, stage: 'test' as const, ports, registry, logLevel: 'warn' };
const env = serviceEnv(cfg, mode);
const { procs } = await startServices(cfg, mode, {
  only: ['ws-edge'],
  // Handshakes arrive by the thousand: give authentication time; real limits stay on (5 per user).
  env: { WS_AUTH_TIMEOUT_MS: '60000', WS_IDLE_TIMEOUT_SECONDS: '120', RATE_LIMIT_WS_CONNECTIONS_PER_USER: String(PER_USER) },
  onLine: (_s, line) => process.stderr.write(`[ws-edge] ${line}\n`),
});
const edgePid = procs[0]?.child.pid as number;
const clients: ChildProcess[] = [];
const redis = createRedis({ url: env.REDIS_URL, connectionName: 'bench-ws-pub' });
const floor = createRedis({ url: env.REDIS_URL, connectionName: 'bench-ws-floor', commandTimeoutMs: 0 });

function ask<T>(child: ChildProcess, msg: object, reply: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { type: string }) => {
      if (m.type !== reply) return;
      child.off('message', on);
      resolve(m as T);
    };
    child.on('message', on);
    child.send(msg);
  });
}

try {
  const sign = await createSigner(
    { issuer: 'order-platform', audience: 'order-platform-api', ttlSeconds: 3600 },
    parseSigningKey(readFileSync(env.JWT_SIGNING_KEY_FILE, 'utf8')),
  );
  const userIds = Array.from({ length: users }, () => randomUUID());
  const tokens: string[] = [];
  for (const userId of userIds) {
    const { token } = await sign({ userId, role: 'customer', tier: 'standard' });
    for (let i = 0; i < PER_USER; i++) tokens.push(token);
  }

  await new Promise((r) => setTimeout(r, 1_000));
  const idleKiB = rssKiB(edgePid);

  // 1. Connections: each client process from its own source address (127.0.0.2, .3, …), so no
  //    address runs out of ephemeral ports.
  const t0 = Date.now();
  const slice = Math.ceil(tokens.length / CLIENTS);
  for (let k = 0; k < CLIENTS; k++) clients.push(fork(join(import.meta.dirname, 'ws-client.ts'), { execArgv: ['--import', 'tsx'] }));
  const results = await Promise.all(
    clients.map((c, k) =>
      ask<{ ok: number; failed: number; errors: Record<string, number> }>(
        c,
        {
          type: 'connect',
          port: ports.wsEdgePort,
          localAddress: `127.0.0.${k + 2}`,
          tokens: tokens.slice(k * slice, (k + 1) * slice),
          concurrency: 64,
        },
        'connected',
      ),
    ),
  );
  const connectSeconds = (Date.now() - t0) / 1000;
  const held = results.reduce((s, r) => s + r.ok, 0);
  const failed = results.reduce((s, r) => s + r.failed, 0);
  await new Promise((r) => setTimeout(r, 2_000));
  const heldKiB = rssKiB(edgePid);
  const perConnection = ((heldKiB - idleKiB) * 1024) / Math.max(1, held);
  const errors = results.flatMap((r) => Object.entries(r.errors));

  // 3. Latency at fixed rates. The floor subscriber sees the same messages on the same channel.
  const channel = feedKeys(NAMESPACE).channel;
  let floorSamples: number[] = [];
  await floor.subscribe(channel);
  floor.on('message', (_c: string, text: string) => {
    floorSamples.push(now() - (JSON.parse(text) as { sentAt: number }).sentAt);
  });
  const rows: string[] = [];
  let seq = 0;
  for (const rate of RATES) {
    floorSamples = [];
    await Promise.all(clients.map((c) => ask(c, { type: 'drain' }, 'samples')));
    const start = now();
    let sent = 0;
    const count = rate * SECONDS;
    while (sent < count) {
      const due = Math.min(count, Math.floor(((now() - start) / 1000) * rate));
      for (; sent < due; sent++) {
        const userId = userIds[Math.floor(Math.random() * userIds.length)] as string;
        seq += 1;
        const update = {
          type: 'order.status',
          seq,
          userId,
          orderId: randomUUID(),
          status: 'paid',
          previousStatus: 'validated',
          version: 3,
          reason: null,
          occurredAt: Date.now(),
          eventId: randomUUID(),
          sentAt: now(),
        };
        void redis.publish(channel, JSON.stringify(update));
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    const tookSeconds = (now() - start) / 1000;
    await new Promise((r) => setTimeout(r, 1_500));
    const samples = await Promise.all(clients.map((c) => ask<{ latencies: number[]; frames: number }>(c, { type: 'drain' }, 'samples')));
    const lat = samples.flatMap((s) => s.latencies).sort((a, b) => a - b);
    const base = [...floorSamples].sort((a, b) => a - b);
    const expected = count * PER_USER;
    rows.push(
      [
        `${rate.toLocaleString('en')} msg/s (${(rate * PER_USER).toLocaleString('en')} deliveries/s, ${tookSeconds.toFixed(1)} s)`,
        `delivered ${lat.length.toLocaleString('en')}/${expected.toLocaleString('en')}`,
        `edge p50 ${ms(pct(lat, 50))} ms, p99 ${ms(pct(lat, 99))} ms, max ${ms(lat[lat.length - 1] ?? Number.NaN)} ms`,
        `Redis floor p50 ${ms(pct(base, 50))} ms, p99 ${ms(pct(base, 99))} ms`,
        `p99 vs floor ${(pct(lat, 99) / pct(base, 99)).toFixed(1)}×`,
        `target p99 < 100 ms ${pct(lat, 99) < 100 ? 'met' : 'NOT met'} (stretch < 20 ms ${pct(lat, 99) < 20 ? 'met' : 'not met'})`,
      ].join('; '),
    );
  }

  const out = process.stdout;
  out.write('\nws-edge, one process\n');
  out.write(
    `connections held: ${held.toLocaleString('en')} of ${total.toLocaleString('en')} attempted (${failed} failed) in ${connectSeconds.toFixed(1)} s, ` +
      `${users.toLocaleString('en')} users × ${PER_USER}, from ${CLIENTS} client processes on 127.0.0.2–127.0.0.${CLIENTS + 1}\n`,
  );
  if (errors.length > 0) out.write(`  failures: ${errors.map(([e, n]) => `${n} × ${e}`).join('; ')}\n`);
  out.write(
    `  target 50,000: ${held >= 50_000 ? 'met' : `NOT met — this machine allows a process ${limit.toLocaleString('en')} open files (RLIMIT_NOFILE hard limit), one per socket`}\n`,
  );
  out.write(
    `memory: edge RSS ${(idleKiB / 1024).toFixed(0)} MiB idle → ${(heldKiB / 1024).toFixed(0)} MiB with ${held.toLocaleString('en')} sockets = ${(perConnection / 1024).toFixed(1)} KiB per connection\n`,
  );
  out.write('publish → client delivery, each message to one user (5 sockets):\n');
  for (const r of rows) out.write(`  ${r}\n`);
} finally {
  for (const c of clients) c.send({ type: 'exit' });
  await floor.quit().catch(() => floor.disconnect());
  await redis.quit().catch(() => redis.disconnect());
  await stopServices(procs);
}
process.exit(0);
