/**
 * webhook-storm: many endpoints on receivers this tool runs (each user owns a fast one, a slow one that
 * answers after seconds, and one that always fails), subscribed to validated/paid/reserved/shipped, while
 * those users place orders at a fixed rate, open loop. After the run the fast endpoints get a bounded
 * drain, then every endpoint's deliveries are read from the API's listing and the endpoints deleted.
 *
 * Targets: every fast endpoint's message succeeded; fast deliveries' p99 (event → arrival) < 5 s; no slow
 * endpoint held more than 4 deliveries in flight (WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT's default); orders
 * placed without 5xx, errors or time-outs.
 */

import { ApiError, inParallel } from '../api/client';
import { usersNeeded } from '../api/limits';
import { createPool } from '../api/users';
import { httpClient } from '../engine/http';
import { runOpenLoop } from '../engine/open-loop';
import { Recorder } from '../engine/recorder';
import type { Chart } from '../report/model';
import { count5xx, fmtMs, target } from '../report/model';
import { type Context, PreconditionError, randomItem, type Scenario } from './context';
import { measure } from './measure';
import { percentileOf, RECEIVER_CLASSES, Receivers } from './receivers';
import { probe, requests, sellable } from './shop';
import { type Endpoint, fastSettled, outcomes, outcomeTable, retireEndpoints } from './webhook-outcomes';

const EVENTS = ['order.validated', 'order.paid', 'order.reserved', 'order.shipped'];
const FAST_P99_MS = 5_000;
const IN_FLIGHT_PER_ENDPOINT = 4;

async function run(ctx: Context) {
  const rate = ctx.args.rate ?? (ctx.args.short ? 2 : 3);
  const durationS = ctx.args.durationS;
  if (!ctx.target.loopback && ctx.args.receiverHost === '127.0.0.1')
    throw new PreconditionError(
      'webhook-storm runs its receivers on this machine: a remote target cannot reach 127.0.0.1. Give --receiver-host with an ' +
        'address of this machine the target can reach (and that its WEBHOOK_ALLOWED_HOSTS allows, or that is public over https).',
    );
  const recorder = new Recorder(['place']);
  const slowMs = ctx.args.short ? 1_500 : 2_500;
  const receivers = new Receivers(ctx.args.receiverHost, () => recorder.elapsedMs() / 1000, slowMs);
  try {
    const first = await createPool(ctx.api, { count: 1, runId: ctx.runId, label: 'hooks', tier: 'premium', devTokens: ctx.devTokens });
    const u0 = first.users[0];
    if (!u0) throw new Error('no user');
    const products = await sellable(ctx.api, u0);
    const placed = await probe(ctx.api, requests.place(u0, randomItem(products).sku, 1));
    const needed = Math.min(30, usersNeeded({ place: rate }, { place: placed.policies }));
    const rest =
      needed > 1
        ? await createPool(ctx.api, { count: needed - 1, runId: ctx.runId, label: 'hooks-pool', tier: 'premium', devTokens: ctx.devTokens })
        : null;
    const users = [u0, ...(rest?.users ?? [])];
    const endpoints: Endpoint[] = (
      await inParallel(users, 4, async (owner, i) =>
        inParallel([...RECEIVER_CLASSES], 1, async (cls) => {
          try {
            const e = await ctx.api.expect<{ id: string }>(201, 'POST', '/api/v1/webhooks', {
              token: owner.token,
              body: { url: receivers.url(cls, i), eventTypes: EVENTS, description: `load test ${ctx.runId}: ${cls}` },
            });
            return { id: e.id, cls, owner };
          } catch (err) {
            if (err instanceof ApiError && err.status === 422)
              throw new PreconditionError(
                `the target refused the receiver's address ${receivers.url(cls, i)} (${err.problem}): it must allow this host (WEBHOOK_ALLOWED_HOSTS), or give --receiver-host`,
              );
            throw err;
          }
        }),
      )
    ).flat();
    ctx.log(`${endpoints.length} endpoints (${users.length} users × fast, slow, failing); ${rate} orders/s for ${durationS} s`);

    const client = httpClient(ctx.target.gatewayUrl, { maxSockets: 256, timeoutMs: 10_000 });
    let ordersTaken = 0;
    const pick = () => ({
      cls: 'place',
      req: requests.place(randomItem(users), randomItem(products).sku, 1),
      onAnswer: (res: { status: number }) => {
        if (res.status === 201) ordersTaken++;
      },
    });
    const m = await measure(
      ctx,
      recorder,
      durationS,
      () => rate,
      () => [runOpenLoop({ client, recorder, durationS, rateAt: () => rate, pick, maxInFlight: 256, signal: ctx.signal })],
    );
    client.close();

    // The drain: the fast endpoints' deliveries of the last orders are still on their way.
    const deadline = Date.now() + (ctx.args.short ? 20_000 : 60_000);
    const expectedFast = ordersTaken * EVENTS.length;
    while (Date.now() < deadline && !ctx.signal.aborted) {
      if (receivers.distinctOf('fast') >= expectedFast && (await fastSettled(ctx.api, endpoints))) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const drainedS = Math.floor(recorder.elapsedMs() / 1000);
    const byId = await outcomes(ctx.api, endpoints);
    await retireEndpoints(ctx.api, endpoints, slowMs + 1_000);

    const t = m.totals;
    const fast = endpoints.filter((e) => e.cls === 'fast').map((e) => byId.get(e.id));
    const fastOpen = fast.reduce((n, o) => n + (o?.failed ?? 0) + (o?.pending ?? 0), 0);
    const fastDone = fast.reduce((n, o) => n + (o?.succeeded ?? 0), 0);
    const fastLatencies = receivers.stats.perSecond.fast.flatMap((s) => s.latenciesMs);
    const fastP99 = percentileOf(fastLatencies, 99);
    const slowMax = receivers.stats.maxInFlight.slow;
    const received = { fast: receivers.distinctOf('fast'), slow: receivers.distinctOf('slow'), failing: receivers.distinctOf('failing') };
    const x = Array.from({ length: drainedS + 1 }, (_, i) => i);
    const per = (cls: (typeof RECEIVER_CLASSES)[number]) => receivers.stats.perSecond[cls];
    const outcomesChart: Chart = {
      id: 'webhooks',
      title: 'Webhook deliveries arriving at the receivers',
      unit: 'deliveries/s',
      x,
      series: [
        { label: 'fast: answered 200', values: x.map((s) => per('fast')[s]?.ok ?? 0) },
        { label: 'slow: answered 200', values: x.map((s) => per('slow')[s]?.ok ?? 0) },
        { label: 'failing: answered 500', values: x.map((s) => per('failing')[s]?.refused ?? 0) },
      ],
      note: `Orders flowed for the first ${durationS} s; after that, the drain.`,
    };
    const latencyChart: Chart = {
      id: 'webhook-latency',
      title: 'Webhook delivery latency (event → arrival)',
      unit: 'ms',
      x,
      series: [
        { label: 'fast p50', values: x.map((s) => percentileOf(per('fast')[s]?.latenciesMs ?? [], 50)) },
        { label: 'fast p99', values: x.map((s) => percentileOf(per('fast')[s]?.latenciesMs ?? [], 99)) },
        { label: 'slow p99', values: x.map((s) => percentileOf(per('slow')[s]?.latenciesMs ?? [], 99)) },
      ],
    };
    return {
      ...m,
      durationS,
      charts: [...m.charts, outcomesChart, latencyChart],
      settings: { orderRate: rate, durationS, endpoints: endpoints.length, events: EVENTS.join(' '), drainS: drainedS - durationS },
      users: { users, method: first.method, notes: [...first.notes, ...(rest?.notes ?? [])] },
      userTier: 'premium',
      admin: null,
      closedLoop: null,
      targets: [
        target(
          'fast-succeeded',
          'fast endpoints’ messages not succeeded after the drain',
          '0',
          `${fastOpen} (${fastDone} succeeded)`,
          fastOpen === 0 && fastDone > 0,
        ),
        target(
          'fast-p99',
          'fast deliveries’ p99, event → arrival',
          `< ${fmtMs(FAST_P99_MS)}`,
          fmtMs(fastP99),
          fastP99 !== null && fastP99 < FAST_P99_MS,
        ),
        target(
          'slow-bounded',
          'most deliveries one slow endpoint had in flight',
          `≤ ${IN_FLIGHT_PER_ENDPOINT}`,
          String(slowMax),
          slowMax <= IN_FLIGHT_PER_ENDPOINT,
        ),
        target(
          'orders-ok',
          'orders answered 5xx, errors or time-outs',
          '0',
          String(count5xx(t.status) + t.errors + t.timeouts),
          count5xx(t.status) + t.errors + t.timeouts === 0,
        ),
      ],
      tables: [outcomeTable(endpoints, byId, received)],
      scenarioData: {
        ordersTaken,
        received,
        maxInFlight: receivers.stats.maxInFlight,
        fastLatencyMs: { p50: percentileOf(fastLatencies, 50), p99: fastP99 },
      },
      notes: [
        'Outcomes come from GET /api/v1/webhooks/:id/deliveries (each endpoint’s owner); the endpoints were deleted afterwards so the failing ones stop being retried.',
        ...first.notes,
      ],
    };
  } finally {
    receivers.stop();
  }
}

export const webhookStorm: Scenario = { name: 'webhook-storm', run };
