/**
 * The workers process is killed with SIGKILL mid-batch while orders flow, then restarted. Afterwards no
 * order is lost (every one reaches a terminal state), none is charged twice (the provider's own record),
 * none is reserved twice (stock moved by exactly what was shipped).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { eventually } from '@orders/platform/testing';
import { cfg, db, devToken, gatewayUrl, mode, type Services, start, stop, useNamespace } from './harness';

const sql = db();
const ORDERS = 120;
const SKU = `CRASH-${randomUUID().slice(0, 8).toUpperCase()}`;
let services: Services;
let workers: Services | undefined;

beforeAll(async () => {
  await useNamespace('e2ewcrash');
  await sql`INSERT INTO products (sku, name, price_cents, currency, stock) VALUES (${SKU}, 'Crash-test socks', 300, 'EUR', 100000)`;
  services = await start(['gateway', 'payment-provider']);
  workers = await start(['workers']);
}, 120_000);

afterAll(async () => {
  await sql.end();
});

describe('workers killed with SIGKILL mid-batch', () => {
  test('no order lost, none charged twice, none reserved twice; every order reaches a terminal state', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => devToken()));
    const ids: string[] = [];
    let quantity = 0;
    let killed = false;
    for (let i = 0; i < ORDERS; i++) {
      const u = users[i % users.length] as { accessToken: string };
      const q = 1 + (i % 3);
      const token = i % 10 === 0 ? 'pm_flaky_retry_me' : 'pm_card_visa';
      const res = await fetch(`${gatewayUrl}/api/v1/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${u.accessToken}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
        body: JSON.stringify({ items: [{ sku: SKU, quantity: q }], paymentMethodToken: token }),
      });
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { id: string }).id);
      quantity += q;
      if (i === Math.floor(ORDERS / 2) && workers) {
        workers.procs[0]?.child.kill('SIGKILL');
        await workers.procs[0]?.exited;
        killed = true;
        process.stdout.write(`  workers killed after ${i + 1} orders\n`);
      }
      if (i === Math.floor(ORDERS * 0.75) && killed) workers = await start(['workers']);
      await Bun.sleep(10);
    }
    try {
      await eventually(
        async () => {
          const [r] = await sql<{ open: number }[]>`
            SELECT count(*)::int AS open FROM orders WHERE id IN ${sql(ids)} AND status NOT IN ('shipped', 'cancelled', 'rejected', 'failed')`;
          return r?.open === 0;
        },
        { what: `all ${ORDERS} orders in a terminal state`, timeoutMs: 90_000, everyMs: 250 },
      );
    } catch (err) {
      // Diagnostics: what the stuck orders are waiting on.
      const stuck =
        await sql`SELECT id, status FROM orders WHERE id IN ${sql(ids)} AND status NOT IN ('shipped', 'cancelled', 'rejected', 'failed')`;
      const activity =
        await sql`SELECT application_name, state, wait_event_type, wait_event, now() - xact_start AS age, left(query, 120) AS query FROM pg_stat_activity WHERE datname = current_database() AND state <> 'idle'`;
      process.stderr.write(`stuck: ${JSON.stringify(stuck)}\nactivity: ${JSON.stringify(activity)}\n`);
      process.stderr.write(
        `${(workers?.lines ?? [])
          .filter((l) => /warn|error/.test(l))
          .slice(-30)
          .join('\n')}\n`,
      );
      throw err;
    }
    const states = await sql<
      { status: string; n: number }[]
    >`SELECT status, count(*)::int AS n FROM orders WHERE id IN ${sql(ids)} GROUP BY status`;
    expect(Object.fromEntries(states.map((s) => [s.status, s.n]))).toEqual({ shipped: ORDERS });

    const provider = `http://${cfg.host}:${mode.ports.paymentProviderPort}`;
    const charges = ((await (await fetch(`${provider}/v1/charges`)).json()) as { data: { reference: string }[] }).data.filter((c) =>
      ids.includes(c.reference),
    );
    const perOrder = new Map<string, number>();
    for (const c of charges) perOrder.set(c.reference, (perOrder.get(c.reference) ?? 0) + 1);
    expect(perOrder.size).toBe(ORDERS);
    expect([...perOrder.values()].every((n) => n === 1)).toBe(true);
    const [p] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM payments WHERE order_id IN ${sql(ids)} AND status = 'authorized'`;
    expect(p?.n).toBe(ORDERS);
    const [stock] = await sql<{ stock: number }[]>`SELECT stock FROM products WHERE sku = ${SKU}`;
    expect(stock?.stock).toBe(100000 - quantity);
    const [res] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM reservations WHERE order_id IN ${sql(ids)}`;
    expect(res?.n).toBe(ORDERS);
    process.stdout.write(`  ${ORDERS} orders shipped, each charged once, stock moved by exactly ${quantity}\n`);
  }, 180_000);

  test('the services stop cleanly', async () => {
    expect(await stop(services)).toEqual({ gateway: 0, 'payment-provider': 0 });
    if (workers) expect(await stop(workers)).toEqual({ workers: 0 });
  }, 60_000);
});
