/**
 * The fault-injection run: the chaos platform (ops/chaos/stack.ts) under customer load, WebSocket feeds
 * and webhook receivers, a schedule of faults one after another (each healed and timed until an order
 * placed after it ships), then the invariant checker's table.
 *
 *   npm run chaos                     the whole schedule (several minutes)
 *   npm run chaos -- --schedule short the one `npm test` runs: broker kill, Redis kill, PostgreSQL crash, a partition
 *   npm run chaos -- --keep           leave the chaos platform running afterwards (to look around)
 *
 * Writes .local/artifacts/chaos-<schedule>.json (history summary, faults, invariants). Exit 1 when an
 * invariant broke. Traffic goes to loopback only; every fault is bounded in time.
 *
 * Slightly over 250 lines: the schedule loop and its per-fault timing read best in one place; the
 * platform, faults, load and invariants are in their own files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { eventually } from '@orders/platform/testing';
import postgres from 'postgres';
import { check, type Row } from './checker';
import { canary, FAULTS, type Fault, type FaultContext, type FaultRecord } from './faults';
import { Feed, newCustomer, Shop } from './load';
import { Services } from './services';
import { cfg, infraDown, infraUp, urls } from './stack';
import { Receiver, subscribe } from './webhook-receiver';

export const SCHEDULES: Record<string, () => Fault[]> = {
  short: () => [FAULTS.kafkaLeader(6_000), FAULTS.redis(4_000), FAULTS.postgres(4_000), FAULTS.partition('postgres', 5_000)],
  full: () => [
    FAULTS.poison(3),
    FAULTS.kafkaLeader(10_000),
    FAULTS.redis(6_000),
    FAULTS.postgres(6_000),
    FAULTS.partition('postgres', 8_000),
    FAULTS.partition('redis', 6_000),
    FAULTS.partition('kafka', 6_000),
    FAULTS.slowKafka(300, 10_000),
    FAULTS.narrowPostgres(64, 10_000),
    FAULTS.resetRedis(5_000),
    FAULTS.kill('gateway', 1_000),
    FAULTS.kill('ws-edge', 1_000),
    FAULTS.kill('workers-a', 1_000),
    FAULTS.kill('dispatcher', 1_000),
    FAULTS.kill('provider', 1_000),
    FAULTS.pause('workers-b'),
    FAULTS.kafkaLeader(10_000),
  ],
};

export interface ChaosOptions {
  schedule: string;
  /** Orders per second offered across all customers. */
  rate: number;
  customers: number;
  keep: boolean;
  log: (s: string) => void;
}

export interface ChaosResult {
  rows: Row[];
  faults: FaultRecord[];
  operations: { placed: number; acknowledged: number; reads: number; cancels: number; feeds: number; webhooks: number };
  errors: string[];
}

const DRAIN_BOUND_MS = 120_000;

/** What an interrupted run (Ctrl-C, SIGTERM) must still stop: the service processes it started. */
const cleanups = new Set<() => Promise<unknown>>();
export async function interrupt(): Promise<void> {
  for (const c of cleanups) await c().catch(() => {});
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const faults = SCHEDULES[o.schedule]?.();
  if (!faults) throw new Error(`unknown schedule "${o.schedule}" (known: ${Object.keys(SCHEDULES).join(', ')})`);
  await infraUp(o.log);
  const services = new Services();
  const stopServices = () => services.stopAll();
  cleanups.add(stopServices);
  const sql = postgres(urls.databaseDirect, { max: 2, onnotice: () => {} });
  const feeds: Feed[] = [];
  const receivers: { receiver: Receiver; endpointId: string; userId: string }[] = [];
  try {
    await services.startAll();
    o.log(`services up: ${[...services.procs.keys()].join(', ')}`);
    // SKUs of our own with known stock (one of them scarce, so some paid orders fail and are refunded).
    const skus = ['CHAOS-A', 'CHAOS-B', 'CHAOS-SCARCE'];
    await sql`
      INSERT INTO products (sku, name, price_cents, currency, stock)
      VALUES ('CHAOS-A', 'Chaos socks', 500, 'EUR', 1000000), ('CHAOS-B', 'Chaos hat', 1200, 'EUR', 1000000), ('CHAOS-SCARCE', 'Chaos limited', 900, 'EUR', 40)
      ON CONFLICT (sku) DO NOTHING`;
    const stockBefore = new Map(
      (await sql<{ sku: string; stock: number }[]>`SELECT sku, stock FROM products WHERE sku IN ${sql(skus)}`).map((r) => [r.sku, r.stock]),
    );
    const customers = await Promise.all(Array.from({ length: o.customers }, () => newCustomer()));
    const probe = await newCustomer();
    // Three customers get webhook endpoints (one receiver fails a third of first tries: retries under faults).
    for (let i = 0; i < 3; i++) {
      const receiver = new Receiver(i === 1 ? 0.33 : 0);
      const customer = customers[i] as (typeof customers)[number];
      receivers.push({ receiver, endpointId: await subscribe(customer, receiver), userId: customer.userId });
    }
    for (const c of customers) {
      const f = new Feed(c, urls.edge);
      f.connect();
      feeds.push(f);
    }
    const shop = new Shop(customers, skus, o.rate);
    const ctx: FaultContext = { services, sql, probe, log: o.log, poisonKeys: [] };
    shop.start();
    // Faults start once every customer has an order acknowledged (the load is flowing end to end).
    await eventually(() => new Set(shop.ops.filter((op) => op.orderId).map((op) => op.user)).size === o.customers, {
      what: 'the load to get going (every customer with an order acknowledged)',
      timeoutMs: 30_000,
      everyMs: 250,
    });
    const records: FaultRecord[] = [];
    for (const fault of faults) {
      o.log(`fault: ${fault.name}`);
      const r = await fault.run(ctx);
      const recoveryMs = await canary(ctx, r.healedAt);
      const failed = shop.window(r.startedAt, r.healedAt + (recoveryMs ?? 0)).filter((a) => a.status === 0 || a.status >= 500).length;
      o.log(
        `  healed after ${((r.healedAt - r.startedAt) / 1000).toFixed(1)} s; recovered (an order placed after the heal shipped) in ${
          recoveryMs === undefined ? 'NOT within the bound' : `${(recoveryMs / 1000).toFixed(1)} s`
        }; ${failed} client requests failed meanwhile`,
      );
      records.push({ name: fault.name, ...r, recoveryMs, failedRequests: failed });
    }
    const faultsEndedAt = Date.now();
    // No new orders; unanswered ones keep retrying with their keys for a while, as a client would.
    shop.retryUntil = faultsEndedAt + 60_000;
    await shop.stop();
    const acked = shop.ops.filter((op) => op.orderId).map((op) => op.orderId as string);
    // Not draining within the bound is a finding for the checker (drainMs undefined), not an error here.
    const drainMs = await eventually(
      async () => {
        const [r] = await sql<{ open: number }[]>`
          SELECT count(*)::int AS open FROM orders WHERE id IN ${sql(acked)} AND status NOT IN ('shipped', 'cancelled', 'rejected', 'failed')`;
        return r?.open === 0;
      },
      {
        what: 'every acknowledged order to reach a terminal state',
        timeoutMs: services.died.length > 0 ? 10_000 : DRAIN_BOUND_MS,
        everyMs: 250,
      },
    ).then(
      () => Date.now() - faultsEndedAt,
      () => undefined,
    );
    // Then the side effects settle: outbox, webhooks, feeds (what is left is the checker's to report).
    await eventually(
      async () => {
        const [r] = await sql<{ n: number }[]>`
          SELECT (SELECT count(*) FROM outbox)::int + (SELECT count(*) FROM webhook_messages WHERE status = 'pending')::int AS n`;
        return r?.n === 0;
      },
      { what: 'the outbox and pending webhooks to drain', timeoutMs: 60_000, everyMs: 250 },
    ).catch(() => {});
    await Promise.all(feeds.map((f) => f.settle()));
    const died = services.died.map((d) => `${d.name} (exit ${d.code})`);
    const rows = await check(sql, {
      ops: shop.ops,
      reads: shop.reads,
      customers,
      feeds,
      receivers,
      faults: records,
      poisonKeys: ctx.poisonKeys,
      stockBefore,
      drainMs,
      drainBoundMs: DRAIN_BOUND_MS,
    });
    rows.unshift({
      invariant: 'no service process died on its own',
      held: died.length === 0,
      detail: died.length === 0 ? `${services.procs.size} processes up at the end` : `died: ${died.join(', ')}`,
    });
    return {
      rows,
      faults: records,
      operations: {
        placed: shop.ops.length,
        acknowledged: acked.length,
        reads: shop.reads.length,
        cancels: shop.ops.filter((op) => op.cancel).length,
        feeds: feeds.reduce((s, f) => s + f.updates.length, 0),
        webhooks: receivers.reduce((s, r) => s + r.receiver.got.length, 0),
      },
      errors: services.errors,
    };
  } finally {
    cleanups.delete(stopServices);
    for (const f of feeds) f.close();
    for (const r of receivers) r.receiver.stop();
    await sql.end();
    if (!o.keep) {
      await services.stopAll();
      await infraDown();
    }
  }
}

export function table(result: ChaosResult): string {
  const lines: string[] = [];
  const op = result.operations;
  lines.push(
    `operations: ${op.placed} orders placed (${op.acknowledged} acknowledged), ${op.reads} reads, ${op.cancels} cancels, ${op.feeds} feed updates, ${op.webhooks} webhook requests`,
  );
  lines.push('', 'faults injected:');
  for (const f of result.faults)
    lines.push(
      `  ${f.name.padEnd(33)} ${f.target}; recovered in ${f.recoveryMs === undefined ? 'NOT within the bound' : `${(f.recoveryMs / 1000).toFixed(1)} s`}; ${f.failedRequests ?? 0} client requests failed`,
    );
  lines.push('', 'invariants:');
  for (const r of result.rows) lines.push(`  ${r.held ? 'held  ' : 'BROKEN'}  ${r.invariant}\n          ${r.detail}`);
  const broken = result.rows.filter((r) => !r.held).length;
  lines.push('', broken === 0 ? `all ${result.rows.length} invariants held` : `${broken} of ${result.rows.length} invariants BROKEN`);
  return lines.join('\n');
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      schedule: { type: 'string', default: 'full' },
      rate: { type: 'string', default: '12' },
      customers: { type: 'string', default: '8' },
      keep: { type: 'boolean', default: false },
    },
  });
  const rate = Number(values.rate);
  const customers = Number(values.customers);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 200) throw new Error('--rate: orders per second, 0 < rate ≤ 200');
  if (!Number.isInteger(customers) || customers < 3 || customers > 100) throw new Error('--customers: an integer from 3 to 100');
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => {
      console.log(`${sig}: stopping the chaos services (\`npm run stack:down\` stops the chaos stack)`);
      interrupt().finally(() => process.exit(130));
    });
  const t0 = Date.now();
  const result = await runChaos({
    schedule: String(values.schedule),
    rate,
    customers,
    keep: Boolean(values.keep),
    log: (s) => console.log(s),
  });
  const out = table(result);
  console.log(`\n${out}\n\ntook ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const dir = join(cfg.localDir, 'artifacts');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `chaos-${values.schedule}.json`), JSON.stringify({ ...result, at: new Date().toISOString() }, null, 2));
  if (result.errors.length)
    console.log(`\n${result.errors.length} error lines from the services (first 10):\n${result.errors.slice(0, 10).join('\n')}`);
  process.exit(result.rows.every((r) => r.held) ? 0 : 1);
}
