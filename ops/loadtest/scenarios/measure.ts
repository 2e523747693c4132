/**
 * The measured window of an HTTP scenario: starts the recorder, the lag/limiter sampler and the progress
 * line, runs the scenario's engines to their end (or Ctrl-C), and hands back the per-second samples with
 * lag and refusals merged in, the totals and the charts every HTTP report has.
 */

import { startProgress } from '../engine/progress';
import type { Recorder, Totals } from '../engine/recorder';
import { startSampler } from '../metrics/sampler';
import { httpCharts, withMetrics } from '../report/charts';
import type { Chart, Summary } from '../report/model';
import type { Context } from './context';

export interface Measurement {
  startedAt: string;
  perSecond: Summary['perSecond'];
  totals: Totals;
  charts: Chart[];
  metrics: Summary['metrics'];
  generatorLatenessMs: Summary['engine']['generatorLatenessMs'];
}

export async function measure(
  ctx: Context,
  recorder: Recorder,
  durationS: number,
  offeredNow: (t: number) => number,
  engines: () => Promise<unknown>[],
): Promise<Measurement> {
  const wallStart = Date.now();
  recorder.start();
  const sampler = await startSampler(ctx.target, ctx.env.PROMETHEUS_URL, wallStart, () => recorder.elapsedMs() / 1000);
  const progress = startProgress(ctx.args.scenario, durationS, recorder, () => offeredNow(recorder.elapsedMs() / 1000));
  const lagTimer = setInterval(() => progress.set({ lag: sampler.latestLag() }), 1000);
  try {
    await Promise.all(engines());
  } finally {
    clearInterval(lagTimer);
    progress.stop();
    sampler.stop();
  }
  const seconds = Math.max(durationS, recorder.seconds);
  const samples = withMetrics(recorder.perSecond(seconds), await sampler.series(seconds));
  return {
    startedAt: new Date(wallStart).toISOString(),
    perSecond: samples,
    totals: recorder.totals(),
    charts: httpCharts(samples, recorder.classes, sampler.source),
    metrics: { source: sampler.source, detail: sampler.detail },
    generatorLatenessMs: recorder.latenessMs(),
  };
}

/** The largest lag seen over the run (null: not measured). */
export function maxLag(perSecond: Summary['perSecond']): number | null {
  const values = perSecond.map((s) => s.lag).filter((v): v is number => v !== null);
  return values.length > 0 ? Math.max(...values) : null;
}
