/**
 * abuse: bystanders browse and read at a steady open-loop rate the whole run; after a baseline (the first
 * 30 %), three attackers join: one user hammering GET /api/v1/orders closed-loop (autocannon), one address
 * hammering (with bad tokens from an address of its own on loopback, 127.0.0.2, so that refusing it
 * refuses no one else; against a remote target, anonymous requests from this machine's address), and a
 * login brute force on one account (from 127.0.0.3 on loopback). Halfway through the attack a bystander
 * signs in with the right password from the usual address.
 *
 * Targets: each attacker admitted at most its limit (as the target announces it) per window; bystanders
 * never refused (0 429) nor failed (0 5xx, errors), their p99 under attack within 2× the baseline's (or
 * 50 ms above it); the bystander's login succeeds.
 */

import type { Api } from '../api/client';
import { type Policy, parsePolicies, tightest, usersNeeded } from '../api/limits';
import { createPool, registeredUser, runEmail } from '../api/users';
import { runHammer } from '../engine/hammer';
import { type HttpRequest, httpClient } from '../engine/http';
import { runOpenLoop } from '../engine/open-loop';
import { Recorder } from '../engine/recorder';
import type { Chart } from '../report/model';
import { count5xx, fmtMs, target } from '../report/model';
import { type Context, randomItem, type Scenario, weighted } from './context';
import { measure } from './measure';
import { createdId, KnownOrders, probe, requests, sellable } from './shop';

const CLASSES = ['bystanders-before', 'bystanders-during', 'attacker-user', 'attacker-address', 'brute-force'] as const;
const ATTACKERS = ['attacker-user', 'attacker-address', 'brute-force'] as const;
const MIX = { browse: 50, list: 20, read: 30 } as const;

/** The first answer's limits, probed from `localAddress` when given (counted as the attacker's first request). */
async function probeFrom(baseUrl: string, localAddress: string | undefined, req: Parameters<ReturnType<typeof httpClient>['send']>[0]) {
  const client = httpClient(baseUrl, { maxSockets: 1, timeoutMs: 10_000, localAddress });
  const res = await client.send(req);
  client.close();
  return res.ok
    ? { status: res.status, policies: parsePolicies(res.headers['ratelimit-policy'] as string | undefined) }
    : { status: 0, policies: [] };
}

/** At most `limit` per started window over `seconds` (a fresh key: nothing admitted before the run). */
const allowance = (p: Policy | null, seconds: number) => (p ? p.limit * Math.ceil(seconds / p.windowS) : null);

async function victim(api: Api, email: string) {
  const u = await registeredUser(api, email);
  return { email, password: u.password as string };
}

async function run(ctx: Context) {
  const rate = ctx.args.rate ?? (ctx.args.short ? 20 : 30);
  const durationS = ctx.args.durationS;
  const baselineS = Math.max(1, Math.round(durationS * 0.3));
  const attackS = durationS - baselineS;
  const base = ctx.target.gatewayUrl;
  const ownAddresses = ctx.target.loopback;

  const first = await createPool(ctx.api, { count: 1, runId: ctx.runId, label: 'bystander', tier: 'premium', devTokens: ctx.devTokens });
  const u0 = first.users[0];
  if (!u0) throw new Error('no user');
  const products = await sellable(ctx.api, u0);
  const placed = await probe(ctx.api, requests.place(u0, randomItem(products).sku, 1));
  const policies = {
    browse: placed.policies.filter((p) => p.name.startsWith('tier:')),
    list: (await probe(ctx.api, requests.list(u0))).policies,
  };
  const needed = Math.min(20, usersNeeded({ browse: (rate * 80) / 100, list: (rate * 20) / 100 }, policies));
  const rest =
    needed > 1
      ? await createPool(ctx.api, { count: needed - 1, runId: ctx.runId, label: 'bystanders', tier: 'premium', devTokens: ctx.devTokens })
      : null;
  const bystanders = [u0, ...(rest?.users ?? [])];
  const known = new KnownOrders();
  const seed = createdId(placed.status, JSON.stringify(placed.body));
  if (seed) known.add(u0, seed);

  const [attacker] = (await createPool(ctx.api, { count: 1, runId: ctx.runId, label: 'attacker', tier: 'free', devTokens: ctx.devTokens }))
    .users;
  if (!attacker) throw new Error('no attacker');
  const target1 = await probe(ctx.api, requests.list(attacker));
  const userLimit = tightest(target1.policies);
  const addressReq: HttpRequest = ownAddresses
    ? { method: 'GET', path: '/api/v1/products?limit=1', headers: { authorization: 'Bearer not-a-token' } }
    : { method: 'POST', path: '/api/v1/auth/register', headers: { 'content-type': 'application/json' }, body: '{}' };
  const addressFrom = ownAddresses ? '127.0.0.2' : undefined;
  const addressProbe = await probeFrom(base, addressFrom, addressReq);
  const addressLimit = tightest(addressProbe.policies);
  const account = await victim(ctx.api, runEmail(ctx.runId, 'victim', 0));
  const bystanderLogin = await victim(ctx.api, runEmail(ctx.runId, 'bystander-login', 0));
  const bruteFrom = ownAddresses ? '127.0.0.3' : undefined;
  const bruteReq = () => ({
    method: 'POST',
    path: '/api/v1/auth/login',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: account.email, password: `wrong-${Math.random().toString(36).slice(2)}` }),
  });
  const bruteProbe = await probeFrom(base, bruteFrom, bruteReq());
  const loginLimit = tightest(bruteProbe.policies);
  ctx.log(
    `${bystanders.length} bystanders at ${rate}/s; attackers from ${baselineS} s (limits: user ${userLimit?.limit}/${userLimit?.windowS}s, address ${addressLimit?.limit}/${addressLimit?.windowS}s, login ${loginLimit?.limit}/${loginLimit?.windowS}s)`,
  );

  const recorder = new Recorder(CLASSES);
  const client = httpClient(base, { maxSockets: 512, timeoutMs: 10_000 });
  const pick = (t: number) => {
    const user = randomItem(bystanders);
    const cls = t < baselineS ? 'bystanders-before' : 'bystanders-during';
    const kind = weighted(MIX);
    const order = known.any(user);
    if (kind === 'read' && order) return { cls, req: requests.read(user, order) };
    if (kind === 'list') return { cls, req: requests.list(user) };
    return { cls, req: requests.browseOne(user, randomItem(products).sku) };
  };
  let loginStatus = 0;
  const later = (ms: number, fn: () => Promise<unknown>) =>
    new Promise((r) => setTimeout(r, ms)).then(() => (ctx.signal.aborted ? undefined : fn()));
  const timeoutMs = 10_000;
  const m = await measure(
    ctx,
    recorder,
    durationS,
    () => rate,
    () => [
      runOpenLoop({ client, recorder, durationS, rateAt: () => rate, pick, maxInFlight: 512, signal: ctx.signal }),
      later(baselineS * 1000, () =>
        runHammer({
          baseUrl: base,
          cls: 'attacker-user',
          recorder,
          connections: ctx.args.short ? 2 : 4,
          untilS: durationS,
          request: () => requests.list(attacker),
          timeoutMs,
          signal: ctx.signal,
        }),
      ),
      later(baselineS * 1000, () =>
        runHammer({
          baseUrl: base,
          cls: 'attacker-address',
          recorder,
          connections: ctx.args.short ? 2 : 4,
          untilS: durationS,
          request: () => addressReq,
          localAddress: addressFrom,
          maxPerSecond: ownAddresses ? undefined : 2_000,
          timeoutMs,
          signal: ctx.signal,
        }),
      ),
      later(baselineS * 1000, () =>
        runHammer({
          baseUrl: base,
          cls: 'brute-force',
          recorder,
          connections: 2,
          untilS: durationS,
          request: bruteReq,
          localAddress: bruteFrom,
          maxPerSecond: ownAddresses ? 20 : 2,
          maxRequests: ownAddresses ? undefined : 15,
          timeoutMs,
          signal: ctx.signal,
        }),
      ),
      later((baselineS + attackS / 2) * 1000, async () => {
        loginStatus = (await ctx.api.call('POST', '/api/v1/auth/login', { body: bystanderLogin })).status;
      }),
    ],
  );
  client.close();

  const t = m.totals;
  const by = t.byClass;
  const admitted = (cls: (typeof ATTACKERS)[number]) => (by[cls]?.achieved ?? 0) - (by[cls]?.status['429'] ?? 0);
  const limits = { 'attacker-user': userLimit, 'attacker-address': addressLimit, 'brute-force': loginLimit } as const;
  // The probes were each attacker's first request, admitted.
  const probes = {
    'attacker-user': target1.status === 429 ? 0 : 1,
    'attacker-address': addressProbe.status === 429 ? 0 : 1,
    'brute-force': bruteProbe.status === 429 ? 0 : 1,
  };
  const attackerTargets = ATTACKERS.map((cls) => {
    const allowed = allowance(limits[cls], attackS + 1);
    const n = admitted(cls) + probes[cls];
    const aim = allowed === null ? 'no limit announced' : `≤ ${allowed} (${limits[cls]?.limit} per ${limits[cls]?.windowS} s)`;
    return target(
      `${cls}-held`,
      `${cls}: requests admitted (not 429)`,
      aim,
      `${n} of ${(by[cls]?.sent ?? 0) + 1}`,
      allowed === null ? null : n <= allowed,
    );
  });
  const before = by['bystanders-before']?.latencyMs?.p99 ?? null;
  const during = by['bystanders-during']?.latencyMs?.p99 ?? null;
  const bound = before === null ? null : Math.max(2 * before, before + 50);
  const b429 = ['bystanders-before', 'bystanders-during'].reduce((n, c) => n + (by[c]?.status['429'] ?? 0), 0);
  const bFail = ['bystanders-before', 'bystanders-during'].reduce(
    (n, c) => n + count5xx(by[c]?.status ?? {}) + (by[c]?.errors ?? 0) + (by[c]?.timeouts ?? 0),
    0,
  );
  const x = m.perSecond.map((s) => s.t);
  const perAttacker = (f: (c: NonNullable<(typeof m.perSecond)[number]['byClass'][string]>) => number) =>
    ATTACKERS.map((cls) => ({
      label: cls,
      values: m.perSecond.map((s) => {
        const c = s.byClass[cls];
        return c ? f(c) : 0;
      }),
    }));
  const bystanderP = (p: 'p50' | 'p99') =>
    m.perSecond.map((s) => s.byClass[s.t < baselineS ? 'bystanders-before' : 'bystanders-during']?.latencyMs?.[p] ?? null);
  const attackCharts: Chart[] = [
    {
      id: 'attackers',
      title: 'Attackers: requests admitted (not 429)',
      unit: 'requests/s',
      x,
      series: perAttacker((c) => c.achieved - (c.status['429'] ?? 0)),
      note: 'Each attacker is admitted up to its limit, then refused: a burst when the attack starts, then nothing.',
    },
    { id: 'refused', title: 'Attackers: requests refused (429)', unit: 'requests/s', x, series: perAttacker((c) => c.status['429'] ?? 0) },
    {
      id: 'bystanders',
      title: 'Bystanders’ latency, before and during the attack',
      unit: 'ms',
      x,
      series: [
        { label: 'p50', values: bystanderP('p50') },
        { label: 'p99', values: bystanderP('p99') },
        { label: 'allowed p99 under attack', values: x.map((t) => (t >= baselineS && bound !== null ? bound : null)) },
      ],
      note: `The attack starts at ${baselineS} s.`,
    },
  ];
  return {
    ...m,
    durationS,
    charts: [...m.charts, ...attackCharts],
    settings: {
      bystanderRate: rate,
      durationS,
      baselineS,
      attackS,
      attackerAddress: addressFrom ?? 'this machine’s',
      bruteForceFrom: bruteFrom ?? 'this machine’s',
    },
    users: { users: bystanders, method: first.method, notes: [...first.notes, ...(rest?.notes ?? [])] },
    userTier: 'premium (attacker: free)',
    admin: null,
    closedLoop: 'autocannon 8.0.0 (the user attacker); node:http loops from their own addresses (the address attacker, the brute force)',
    targets: [
      ...attackerTargets,
      target('bystanders-not-limited', 'bystanders refused (429)', '0', String(b429), b429 === 0),
      target('bystanders-not-failed', 'bystanders’ 5xx, errors and time-outs', '0', String(bFail), bFail === 0),
      target(
        'bystanders-p99',
        'bystanders’ p99 under attack',
        bound === null ? 'a baseline first' : `≤ ${fmtMs(bound)} (2× baseline ${fmtMs(before)}, or +50 ms)`,
        `${fmtMs(during)} (baseline ${fmtMs(before)})`,
        bound === null || during === null ? null : during <= bound,
      ),
      target(
        'bystander-login',
        'a bystander’s login during the brute force',
        '200',
        loginStatus === 0 ? 'not made' : String(loginStatus),
        loginStatus === 200,
      ),
    ],
    tables: [],
    scenarioData: { limits, probes, loginStatus, baselineP99Ms: before, attackP99Ms: during },
    notes: [
      ownAddresses
        ? 'The address attacker and the brute force send from 127.0.0.2 and 127.0.0.3: their refusals (and the 15-minute login limit they use up) do not touch 127.0.0.1.'
        : 'Against a remote target every attacker shares this machine’s address: the address attacker floods an anonymous route (limited per address, not per user), and the brute force stops at 15 attempts so that this address keeps logins to spare (they are limited per address for 15 minutes).',
      ...first.notes,
    ],
  };
}

export const abuse: Scenario = { name: 'abuse', run };
