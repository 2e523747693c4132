/**
 * ws-storm: many concurrent sockets across the edge processes, deliveries under a steady publish rate,
 * then a reconnect wave with resume after an edge restart. The socket engine (multi-process clients,
 * extra local edges, a publisher on the target's Redis, delivery latency) is ../ws/ (`runWsStorm`); this
 * file gives it the target and turns what it reports each second and in the end into the report.
 *
 * Targets: every socket opened; delivery p99 < 1 s; every socket the wave dropped resumed; no update lost.
 */
import { startSampler } from '../metrics/sampler';
import type { Chart, Table } from '../report/model';
import { fmtMs, target } from '../report/model';
import { runWsStorm, type WsSecond, type WsStormSummary } from '../ws/index';
import type { Context, Scenario } from './context';

export const WS_P99_MS = 1_000;

/** The run's headline figures, phase by phase. */
function wsTable(s: WsStormSummary): Table {
  const lat = (l: { p50Ms: number; p99Ms: number; maxMs: number; count: number }) =>
    l.count === 0 ? 'none' : `p50 ${fmtMs(l.p50Ms)}, p99 ${fmtMs(l.p99Ms)}, max ${fmtMs(l.maxMs)} (${l.count})`;
  const rows: [string, string][] = [
    ['sockets opened', `${s.opened} of ${s.target.connections} in ${s.connect.seconds} s (${s.connect.attempts} handshakes)`],
    [
      'edges',
      s.edges
        .map(
          (e) =>
            `${e.url}${e.sockets === undefined ? '' : `: ${e.sockets} sockets`}${e.peakRssMiB === undefined ? '' : `, peak RSS ${e.peakRssMiB} MiB`}`,
        )
        .join('; '),
    ],
    ['steady deliveries', `${s.delivery.delivered} of ${s.delivery.expected} expected (${s.delivery.published} published)`],
    ['steady latency', lat(s.delivery)],
  ];
  if ('dropped' in s.wave) {
    const w = s.wave;
    rows.push(
      ['wave: edge restarted', w.edge],
      ['wave: sockets dropped / resumed / resync', `${w.dropped} / ${w.resumed} / ${w.resync}`],
      ['wave: all reopened / all resumed after', `${w.allOpenMs ?? 'never'} ms / ${w.allResumedMs ?? 'never'} ms`],
      ['wave: replayed updates', lat(w.replay)],
      ['wave: live deliveries', lat(w.live)],
    );
  } else rows.push(['wave', s.wave.skipped]);
  rows.push(
    ['updates lost', `${s.loss.lost} (${s.loss.socketsWithLoss} sockets; ${s.loss.checked} checked, ${s.loss.repeats} repeats)`],
    [
      'errors',
      `${s.errors.total}${
        Object.keys(s.errors.byKind).length > 0
          ? `: ${Object.entries(s.errors.byKind)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ')}`
          : ''
      }`,
    ],
  );
  return { id: 'ws', title: 'Sockets, phase by phase', columns: ['what', 'figure'], rows };
}

async function run(ctx: Context) {
  const connections = ctx.args.connections ?? (ctx.args.short ? 300 : 50_000);
  const publishRate = ctx.args.rate ?? (ctx.args.short ? 50 : 1_000);
  const durationS = ctx.args.durationS;
  const wallStart = Date.now();
  const started = performance.now();
  const elapsedS = () => (performance.now() - started) / 1000;
  const sampler = await startSampler(ctx.target, ctx.env.PROMETHEUS_URL, wallStart, elapsedS);
  const seconds: WsSecond[] = [];
  let summary: WsStormSummary;
  try {
    const result = await runWsStorm(
      {
        gatewayUrl: ctx.target.gatewayUrl,
        wsUrls: ctx.target.wsUrls,
        connections,
        publishRate,
        durationS,
        reconnectWave: true,
        short: ctx.args.short,
        namespace: ctx.args.namespace ?? undefined,
        signal: ctx.signal,
        // The command line turns Ctrl-C into the signal above.
        handleSignals: false,
      },
      (s) => {
        seconds.push(s);
        const lag = sampler.latestLag();
        process.stderr.write(
          `[ws-storm] ${s.t} s ${s.phase} │ open ${s.open} │ connecting ${s.connecting} │ delivered ${s.delivered}/s │ p99 ${fmtMs(s.deliveryP99Ms)} │ errors ${s.errors} │ resumed ${s.resumed}${lag === null ? '' : ` │ lag ${lag}`}\n`,
        );
      },
    );
    summary = result.summary;
  } finally {
    sampler.stop();
  }
  const x = seconds.map((_, i) => i);
  const lag = await sampler.series(x.length);
  const series = (label: string, f: (s: WsSecond) => number | null) => ({ label, values: seconds.map(f) });
  const charts: Chart[] = [
    {
      id: 'ws-sockets',
      title: 'WebSocket sockets',
      unit: 'sockets',
      x,
      series: [series('open', (s) => s.open), series('connecting', (s) => s.connecting), series('resumed', (s) => s.resumed)],
    },
    {
      id: 'ws-deliveries',
      title: 'WebSocket deliveries',
      unit: 'messages/s',
      x,
      series: [series('delivered', (s) => s.delivered), series('errors', (s) => s.errors)],
    },
    {
      id: 'ws-latency',
      title: 'WebSocket delivery latency (publish → arrival)',
      unit: 'ms',
      x,
      series: [series('p50', (s) => s.deliveryP50Ms), series('p99', (s) => s.deliveryP99Ms)],
    },
    {
      id: 'lag',
      title: 'Consumer lag and rate-limit refusals',
      unit: 'messages / refusals per s',
      x,
      series: [
        { label: 'consumer lag (messages)', values: lag.lag },
        { label: 'limiter refusals/s', values: lag.limitedPerS },
      ],
      note: `Source: ${sampler.source}.`,
    },
  ];
  const wave = 'dropped' in summary.wave ? summary.wave : null;
  const p99 = summary.deliveryP99Ms;
  return {
    startedAt: new Date(wallStart).toISOString(),
    durationS,
    totals: null,
    perSecond: [],
    metrics: { source: sampler.source, detail: sampler.detail },
    generatorLatenessMs: null,
    charts,
    settings: { connections, publishRate, durationS, edges: summary.edges.length, reconnectWave: true },
    users: null,
    userTier: 'n/a',
    admin: null,
    closedLoop: null,
    targets: [
      target('ws-opened', 'sockets open at the peak', `${connections}`, String(summary.opened), summary.opened >= connections),
      target(
        'ws-p99',
        'delivery p99 (publish → arrival) under the publish rate',
        `< ${fmtMs(WS_P99_MS)}`,
        fmtMs(p99),
        p99 === null ? null : p99 < WS_P99_MS,
      ),
      target(
        'ws-resumed',
        'sockets the edge restart dropped that resumed',
        'every one',
        summary.resumeExpected === null
          ? 'no wave'
          : `${summary.resumed} of ${summary.resumeExpected}${wave && wave.resync > 0 ? ` (${wave.resync} resync)` : ''}`,
        summary.resumeExpected === null ? null : (summary.resumed ?? 0) >= summary.resumeExpected,
      ),
      target(
        'ws-lost',
        'updates lost (sequences checked on every open socket)',
        '0',
        `${summary.lost} of ${summary.loss.checked} checked`,
        summary.lost === 0,
      ),
    ],
    tables: [wsTable(summary)],
    scenarioData: { summary },
    notes: [
      `Edges: ${summary.edges.map((e) => `${e.url}${e.started ? ' (started by the run)' : ''}${e.restarted ? ' (restarted for the wave)' : ''}`).join(', ')}.`,
      `${summary.target.users} users × ${summary.target.socketsPerUser} sockets in ${summary.target.clientProcesses} client processes; tokens: ${summary.target.tokens}.`,
    ],
  };
}

export const wsStorm: Scenario = { name: 'ws-storm', run };
