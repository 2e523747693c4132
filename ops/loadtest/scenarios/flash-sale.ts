/**
 * flash-sale: a few new SKUs with little stock (made by an administrator), and customers on them: the
 * base rate, then a ramp to 10× within seconds, held, then back. Half the requests place an order of
 * one unit, some are double clicks (the same Idempotency-Key again at once: 409 while the first is in
 * flight, its replay after), the rest look at the product or their order. The API takes every valid order
 * (201) and the inventory stage decides, so the check is on the outcome once the pipeline has settled:
 * the units taken never exceed the stock, and each SKU's stock moved by exactly what its orders took.
 *
 * Targets: 0 units oversold; stock accounted (initial − left = units in reserved or shipped orders); only
 * 200/201/409/422/429 answers (no 5xx, errors or time-outs); every sale order settled; each SKU sold out
 * when demand exceeded its stock.
 */

import { usersNeeded } from '../api/limits';
import { adminToken, createPool } from '../api/users';
import { httpClient } from '../engine/http';
import { runOpenLoop } from '../engine/open-loop';
import { Recorder } from '../engine/recorder';
import type { Chart } from '../report/model';
import { count5xx, target, unexpected } from '../report/model';
import { type Context, PreconditionError, randomItem, type Scenario, weighted } from './context';
import { type SaleOrder, type Settled, settle, stockOf } from './flash-sale-settle';
import { measure } from './measure';
import { createdId, probe, requests } from './shop';

const MIX = { view: 40, place: 45, 'place-retry': 5, read: 10 } as const;
type Cls = keyof typeof MIX;
const CLASSES = Object.keys(MIX) as Cls[];
const ALLOWED = [200, 201, 409, 422, 429];

/** Base rate until a quarter in, up to 10× over `rampS`, held until 80 %, then the base again. */
export function saleProfile(base: number, durationS: number, rampS: number) {
  const rampStart = durationS * 0.25;
  const peakEnd = durationS * 0.8;
  return (t: number) => {
    if (t < rampStart || t >= peakEnd) return base;
    return base * (1 + 9 * Math.min(1, (t - rampStart) / rampS));
  };
}

async function run(ctx: Context) {
  const admin = await adminToken(ctx.api, ctx.env.ORDERS_ADMIN_TOKEN, ctx.devTokensOffered, ctx.runId);
  if (!admin)
    throw new PreconditionError(
      'flash-sale makes its sale SKUs with little stock, which takes an administrator: set ORDERS_ADMIN_TOKEN to an ' +
        "admin's access token (`npm run users -- promote EMAIL`, then log in), or run against a dev/test target that offers dev tokens.",
    );
  const base = ctx.args.rate ?? (ctx.args.short ? 10 : 20);
  const durationS = ctx.args.durationS;
  const rateAt = saleProfile(base, durationS, ctx.args.short ? 1 : 3);
  const stockEach = ctx.args.short ? 10 : 50;
  // Listing the sale's orders afterwards starts here (a minute early: the target's clock may differ a little).
  const since = new Date(Date.now() - 60_000).toISOString();
  const skus = [1, 2, 3].map((i) => `FLASH-${ctx.runId.toUpperCase()}-${i}`);
  for (const sku of skus)
    await ctx.api.expect(201, 'POST', '/api/v1/products', {
      token: admin.token,
      body: { sku, name: `Flash sale item ${sku}`, priceCents: 1999, currency: 'EUR', stock: stockEach },
    });

  // The pool keeps the base rate under the limits; the peak is meant to meet them.
  const first = await createPool(ctx.api, { count: 1, runId: ctx.runId, label: 'sale', tier: 'standard', devTokens: ctx.devTokens });
  const u0 = first.users[0];
  if (!u0) throw new Error('no user');
  const policies = { view: (await probe(ctx.api, requests.browseOne(u0, skus[0] as string))).policies };
  const needed = usersNeeded(
    { view: (base * (MIX.view + MIX.read)) / 100, place: (base * (MIX.place + MIX['place-retry'])) / 100 },
    {
      ...policies,
      place: [...policies.view, { name: 'POST /api/v1/orders', limit: 20, windowS: 60 }],
    },
  );
  const rest =
    needed > 1
      ? await createPool(ctx.api, { count: needed - 1, runId: ctx.runId, label: 'sale-pool', tier: 'standard', devTokens: ctx.devTokens })
      : null;
  const users = [u0, ...(rest?.users ?? [])];
  ctx.log(`${skus.length} SKUs × ${stockEach} in stock, ${users.length} customers, ${base} → ${base * 10} requests/s`);

  const orders: SaleOrder[] = [];
  const lastPlace = new Map<string, { req: ReturnType<typeof requests.place>; sku: string; quantity: number }>();
  const mine = new Map<string, string>();
  const recorder = new Recorder(CLASSES);
  const client = httpClient(ctx.target.gatewayUrl, { maxSockets: 1024, timeoutMs: 10_000 });
  const pick = () => {
    const user = randomItem(users);
    let cls: Cls = weighted(MIX);
    const previous = lastPlace.get(user.userId);
    if (cls === 'place-retry' && !previous) cls = 'place';
    if (cls === 'read' && !mine.has(user.userId)) cls = 'view';
    if (cls === 'view') return { cls, req: requests.browseOne(user, randomItem(skus)) };
    if (cls === 'read') return { cls, req: requests.read(user, mine.get(user.userId) as string) };
    // A double click sends the last order again, key and body alike.
    const sku = cls === 'place-retry' && previous ? previous.sku : randomItem(skus);
    const quantity = cls === 'place-retry' && previous ? previous.quantity : Math.random() < 0.8 ? 1 : 2;
    const req = cls === 'place-retry' && previous ? previous.req : requests.place(user, sku, quantity);
    if (cls === 'place') lastPlace.set(user.userId, { req, sku, quantity });
    return {
      cls,
      req,
      onAnswer: (res: { status: number; body: string; headers: Record<string, unknown> }) => {
        const id = createdId(res.status, res.body);
        if (!id || res.headers['idempotent-replayed'] === 'true') return;
        mine.set(user.userId, id);
        orders.push({ id, sku, quantity });
      },
    };
  };
  const stockSeries = new Map<string, (number | null)[]>(skus.map((s) => [s, []]));
  const stockTimer = setInterval(() => {
    const s = Math.floor(recorder.elapsedMs() / 1000);
    for (const sku of skus)
      void stockOf(ctx.api, admin.token, sku).then((v) => {
        (stockSeries.get(sku) as (number | null)[])[s] = v;
      });
  }, 1000);
  const m = await measure(ctx, recorder, durationS, rateAt, () => [
    runOpenLoop({ client, recorder, durationS, rateAt, pick, maxInFlight: 1024, signal: ctx.signal }),
  ]);
  clearInterval(stockTimer);
  client.close();

  ctx.log(`${orders.length} orders taken; waiting for the pipeline to settle them`);
  const settled: Settled = await settle(ctx.api, admin.token, orders, skus, since, ctx.args.short ? 20_000 : 60_000);
  for (const sku of skus) await ctx.api.call('PATCH', `/api/v1/products/${sku}`, { token: admin.token, body: { active: false } });

  const t = m.totals;
  const oversold = settled.perSku.reduce((n, r) => n + Math.max(0, r.sold - stockEach), 0);
  const misaccounted = settled.perSku.filter((r) => r.stockLeft === null || stockEach - r.stockLeft !== r.sold);
  const strange = unexpected(t.status, ALLOWED);
  const demandExceeded = settled.perSku.filter((r) => r.unitsOrdered > stockEach);
  const notSoldOut = demandExceeded.filter((r) => r.sold !== stockEach);
  const stockChart: Chart = {
    id: 'stock',
    title: 'Stock left per sale SKU',
    unit: 'units',
    x: m.perSecond.map((s) => s.t),
    series: skus.map((sku) => ({ label: sku, values: m.perSecond.map((s) => stockSeries.get(sku)?.[s.t] ?? null) })),
    note: 'Read through the API once a second (the catalogue is cached for up to a second).',
  };
  return {
    ...m,
    durationS,
    charts: [...m.charts, stockChart],
    settings: { baseRate: base, peakRate: base * 10, durationS, skus: skus.length, stockPerSku: stockEach },
    users: { users, method: first.method, notes: [...first.notes, ...(rest?.notes ?? [])] },
    userTier: 'standard',
    admin,
    closedLoop: null,
    targets: [
      target('no-oversell', 'units sold beyond the stock', '0', String(oversold), oversold === 0),
      target(
        'stock-accounted',
        'stock taken = units in reserved or shipped orders, per SKU',
        'every SKU',
        misaccounted.length === 0
          ? 'every SKU'
          : misaccounted.map((r) => `${r.sku}: ${stockEach} − ${r.stockLeft} vs ${r.sold}`).join('; '),
        misaccounted.length === 0,
      ),
      target(
        'clear-answers',
        'answers other than 200/201/409/422/429',
        'none',
        strange === '' ? 'none' : strange,
        strange === '' && count5xx(t.status) === 0,
      ),
      target('no-failures', 'connection errors and time-outs', '0', String(t.errors + t.timeouts), t.errors + t.timeouts === 0),
      target(
        'settled',
        'sale orders still in the pipeline after the wait',
        '0',
        `${settled.unsettled} of ${orders.length}`,
        settled.unsettled === 0,
      ),
      target(
        'sold-out',
        'SKUs whose demand exceeded the stock and did not sell out',
        '0',
        demandExceeded.length === 0 ? 'demand never exceeded a stock' : `${notSoldOut.length} of ${demandExceeded.length}`,
        demandExceeded.length === 0 ? null : notSoldOut.length === 0,
      ),
    ],
    tables: [settled.table],
    scenarioData: { skus, stockEach, perSku: settled.perSku, ordersTaken: orders.length, reasons: settled.reasons },
    notes: [
      'POST /api/v1/orders answers 201 for every valid order; the inventory stage then reserves the stock or fails the order with the reason “out of stock”, which the customer sees on the order, its feed and its webhooks. A double click replays the first answer (201 with Idempotent-Replayed: true) once it is done, and answers 409 only while it is in flight.',
      ...first.notes,
      ...(rest?.notes ?? []),
    ],
  };
}

export const flashSale: Scenario = { name: 'flash-sale', run };
