/**
 * steady: a realistic mix at a fixed rate, open loop: browse the catalogue (45 %), list orders (15 %),
 * read one (33 %), place one (5 %), cancel one (2 %: the user's newest order, which has usually shipped
 * already, so most cancels answer 409, as they would for a real customer). The pool is sized from the
 * limits the target announces so that no user goes past half of any: a 429 here means something.
 *
 * Targets: p99 < 250 ms over every request (from its scheduled time), 0 5xx, 0 errors or time-outs,
 * 0 requests refused by the rate limiter, only the statuses each class expects, consumer lag < 1,000.
 */

import { type Policy, usersNeeded } from '../api/limits';
import { createPool } from '../api/users';
import { httpClient } from '../engine/http';
import { runOpenLoop } from '../engine/open-loop';
import { Recorder } from '../engine/recorder';
import { count5xx, fmtMs, target, unexpected } from '../report/model';
import { type Context, randomItem, type Scenario, weighted } from './context';
import { maxLag, measure } from './measure';
import { createdId, KnownOrders, probe, requests, sellable } from './shop';

const MIX = { browse: 45, list: 15, read: 33, place: 5, cancel: 2 } as const;
type Cls = keyof typeof MIX;
const CLASSES = Object.keys(MIX) as Cls[];
const EXPECTED: Record<Cls, number[]> = { browse: [200], list: [200], read: [200], place: [201], cancel: [200, 409] };
export const STEADY_P99_MS = 250;

async function run(ctx: Context) {
  const rate = ctx.args.rate ?? (ctx.args.short ? 40 : 100);
  const durationS = ctx.args.durationS;
  const tier = 'premium';
  const share = (c: Cls) => (rate * MIX[c]) / 100;

  // One user first: what the target answers each kind of request, and the limits it announces for it.
  const first = await createPool(ctx.api, { count: 1, runId: ctx.runId, label: 'steady', tier, devTokens: ctx.devTokens });
  const u0 = first.users[0];
  if (!u0) throw new Error('no user');
  const products = await sellable(ctx.api, u0);
  if (products.length === 0) throw new Error('the catalogue has no active product with stock to sell');
  const placed = await probe(ctx.api, requests.place(u0, randomItem(products).sku, 1));
  const seedId = (placed.body as { id?: string }).id ?? '';
  const policies: Record<string, Policy[]> = {
    browse: (await probe(ctx.api, requests.browseList(u0))).policies,
    list: (await probe(ctx.api, requests.list(u0))).policies,
    read: (await probe(ctx.api, requests.read(u0, seedId))).policies,
    place: placed.policies,
  };
  // A cancel is limited like any request of the user's (its tier); it is not probed, to keep the seed order.
  policies.cancel = policies.browse ?? [];
  const needed = usersNeeded(Object.fromEntries(CLASSES.map((c) => [c, share(c)])), policies);
  const rest =
    needed > 1
      ? await createPool(ctx.api, { count: needed - 1, runId: ctx.runId, label: 'steady-pool', tier, devTokens: ctx.devTokens })
      : null;
  const users = [u0, ...(rest?.users ?? [])];
  const pool = { users, method: first.method, notes: [...first.notes, ...(rest?.notes ?? [])] };
  if (users.length < needed)
    pool.notes.push(`the rate needs ${needed} users to stay under the limits; ${users.length} were made: expect 429s`);
  ctx.log(`${users.length} users (${first.method}), ${rate} requests/s for ${durationS} s`);

  const known = new KnownOrders();
  if (seedId) known.add(u0, seedId);
  const recorder = new Recorder(CLASSES);
  const client = httpClient(ctx.target.gatewayUrl, { maxSockets: 1024, timeoutMs: 10_000 });
  const pick = () => {
    const user = randomItem(users);
    let cls = weighted(MIX);
    const order = cls === 'cancel' ? known.newest(user) : known.any(user);
    if ((cls === 'read' || cls === 'cancel') && !order) cls = 'list';
    switch (cls) {
      case 'browse':
        return { cls, req: Math.random() < 0.5 ? requests.browseList(user) : requests.browseOne(user, randomItem(products).sku) };
      case 'list':
        return { cls, req: requests.list(user) };
      case 'read':
        return { cls, req: requests.read(user, order as string) };
      case 'cancel':
        return { cls, req: requests.cancel(user, order as string) };
      default:
        return {
          cls,
          req: requests.place(user, randomItem(products).sku, 1),
          onAnswer: (res: { status: number; body: string }) => {
            const id = createdId(res.status, res.body);
            if (id) known.add(user, id);
          },
        };
    }
  };
  const m = await measure(
    ctx,
    recorder,
    durationS,
    () => rate,
    () => [runOpenLoop({ client, recorder, durationS, rateAt: () => rate, pick, maxInFlight: 1024, signal: ctx.signal })],
  );
  client.close();

  const t = m.totals;
  const surprises = CLASSES.map((c) => [c, unexpected(t.byClass[c]?.status ?? {}, EXPECTED[c])] as const).filter(([, u]) => u !== '');
  const lag = maxLag(m.perSecond);
  const limited = t.status['429'] ?? 0;
  return {
    ...m,
    durationS,
    settings: { rate, durationS, mix: CLASSES.map((c) => `${c} ${MIX[c]} %`).join(', ') },
    users: pool,
    userTier: tier,
    admin: null,
    closedLoop: null,
    targets: [
      target(
        'p99',
        'p99 latency of every request',
        `< ${STEADY_P99_MS} ms`,
        fmtMs(t.latencyMs?.p99),
        t.latencyMs !== null && t.latencyMs.p99 < STEADY_P99_MS,
      ),
      target('no-5xx', 'server errors (5xx)', '0', String(count5xx(t.status)), count5xx(t.status) === 0),
      target('no-failures', 'connection errors and time-outs', '0', String(t.errors + t.timeouts), t.errors + t.timeouts === 0),
      target(
        'not-limited',
        'requests refused by the rate limiter (429)',
        '0 (the pool is sized below the limits)',
        String(limited),
        limited === 0,
      ),
      target(
        'expected-statuses',
        'answers each class does not expect',
        'none (cancel: 200 or 409)',
        surprises.length === 0 ? 'none' : surprises.map(([c, u]) => `${c}: ${u}`).join('; '),
        surprises.length === 0,
      ),
      target(
        'lag',
        'largest consumer lag during the run',
        '< 1,000 messages',
        lag === null ? 'not measured' : String(lag),
        lag === null ? null : lag < 1000,
      ),
    ],
    tables: [],
    scenarioData: { policies, usersNeeded: needed },
    notes: [...pool.notes],
  };
}

export const steady: Scenario = { name: 'steady', run };
