/**
 * The charts every HTTP scenario's report has, built from the per-second samples: offered vs sent vs
 * achieved, latency percentiles, answers by status code (429 among them), consumer lag and the limiter's
 * refusals, and each request class's p99. Scenarios add their own (webhook outcomes, sockets).
 */
import type { SecondSample } from '../engine/recorder';
import type { Series } from '../metrics/sampler';
import type { Chart } from './model';

type Sample = SecondSample & { lag: number | null; limitedPerS: number | null };

const xs = (samples: Sample[]) => samples.map((s) => s.t);

export function rateChart(samples: Sample[]): Chart {
  return {
    id: 'rate',
    title: 'Offered vs achieved rate',
    unit: 'requests/s',
    x: xs(samples),
    series: [
      { label: 'offered', values: samples.map((s) => s.offered) },
      { label: 'sent', values: samples.map((s) => s.sent) },
      { label: 'achieved (answered)', values: samples.map((s) => s.achieved) },
      { label: 'dropped (client bound)', values: samples.map((s) => s.dropped) },
    ],
    note: 'Each request counts in the second it was offered (scheduled); achieved = those answered with any HTTP status.',
  };
}

export function latencyChart(samples: Sample[]): Chart {
  return {
    id: 'latency',
    title: 'Latency percentiles (from each request’s scheduled time)',
    unit: 'ms',
    x: xs(samples),
    series: (['p50', 'p95', 'p99'] as const).map((p) => ({ label: p, values: samples.map((s) => s.latencyMs?.[p] ?? null) })),
  };
}

/** One line per status code seen in the run (429 always), plus errors and time-outs. */
export function statusChart(samples: Sample[]): Chart {
  const codes = new Set<string>(['429']);
  for (const s of samples) for (const code of Object.keys(s.status)) codes.add(code);
  return {
    id: 'status',
    title: 'Answers by status code',
    unit: 'answers/s',
    x: xs(samples),
    series: [
      ...[...codes].sort().map((code) => ({ label: code, values: samples.map((s) => s.status[code] ?? 0) })),
      { label: 'errors', values: samples.map((s) => s.errors) },
      { label: 'timeouts', values: samples.map((s) => s.timeouts) },
    ],
  };
}

export function lagChart(samples: Sample[], source: string): Chart {
  return {
    id: 'lag',
    title: 'Consumer lag and rate-limit refusals',
    unit: 'messages / refusals per s',
    x: xs(samples),
    series: [
      { label: 'consumer lag (messages)', values: samples.map((s) => s.lag) },
      { label: 'limiter refusals/s', values: samples.map((s) => s.limitedPerS) },
    ],
    note: `Source: ${source}. Empty lines: not measured for this target.`,
  };
}

export function classLatencyChart(samples: Sample[], classes: readonly string[]): Chart {
  return {
    id: 'class-p99',
    title: 'p99 latency by request class',
    unit: 'ms',
    x: xs(samples),
    series: classes.map((c) => ({ label: c, values: samples.map((s) => s.byClass[c]?.latencyMs?.p99 ?? null) })),
  };
}

export function withMetrics(samples: SecondSample[], series: Series): Sample[] {
  return samples.map((s, i) => ({ ...s, lag: series.lag[i] ?? null, limitedPerS: series.limitedPerS[i] ?? null }));
}

/** The charts of any scenario that sent HTTP requests. */
export function httpCharts(samples: Sample[], classes: readonly string[], source: string): Chart[] {
  return [rateChart(samples), latencyChart(samples), statusChart(samples), lagChart(samples, source), classLatencyChart(samples, classes)];
}
