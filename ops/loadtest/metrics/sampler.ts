/**
 * Consumer lag (messages the pipeline's consumer groups are behind, summed over stages and partitions) and
 * the limiter's refusals per second, over the run. From Prometheus when one answers and holds the target's
 * series (range queries over the run's window afterwards, an instant query each second for the progress
 * line); otherwise by scraping the local workers' and gateway's /metrics pages each second; for a remote
 * target without Prometheus, not at all. The report names the source.
 */

import { createPrometheusClient, type PrometheusClient } from '../../clients/prometheus';
import type { Target } from '../target';

export type MetricsSource = 'prometheus' | 'scraped /metrics' | 'none';

export interface Series {
  lag: (number | null)[];
  limitedPerS: (number | null)[];
}

export interface Sampler {
  source: MetricsSource;
  detail: string;
  /** The newest lag seen (progress line). */
  latestLag(): number | null;
  stop(): void;
  /** One value per second of the run, `seconds` long. */
  series(seconds: number): Promise<Series>;
}

/** The sum of every sample of `name` whose labels match `labelFilter`, in a text exposition. */
export function sumMetric(text: string, name: string, labelFilter: RegExp = /.*/): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels = line.slice(name.length, line.lastIndexOf(' '));
    if (labelFilter.test(labels)) sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return sum;
}

const LIMITED = /outcome="limited(_local)?"/;

async function text(url: string): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(800) });
    return res.ok ? await res.text() : null;
  } catch {
    return null;
  }
}

function scraper(target: Target, elapsedS: () => number): Sampler {
  const local = target.local;
  if (!local) {
    return {
      source: 'none',
      detail: 'a remote target without Prometheus: no consumer lag or limiter series',
      latestLag: () => null,
      stop() {},
      series: async (seconds) => ({ lag: new Array(seconds).fill(null), limitedPerS: new Array(seconds).fill(null) }),
    };
  }
  const lag: (number | null)[] = [];
  const limited: (number | null)[] = [];
  let latest: number | null = null;
  let lastLimited: number | null = null;
  const tick = async () => {
    const s = Math.floor(elapsedS());
    const [workers, gateway] = await Promise.all([text(local.workersMetricsUrl), text(local.gatewayMetricsUrl)]);
    if (workers !== null) {
      latest = sumMetric(workers, 'orders_worker_consumer_lag');
      lag[s] = latest;
    }
    if (gateway !== null) {
      const total = sumMetric(gateway, 'orders_ratelimit_decisions_total', LIMITED);
      if (lastLimited !== null) limited[s] = Math.max(0, total - lastLimited);
      lastLimited = total;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), 1000);
  return {
    source: 'scraped /metrics',
    detail: `${local.workersMetricsUrl} and ${local.gatewayMetricsUrl}, once a second`,
    latestLag: () => latest,
    stop: () => clearInterval(timer),
    series: async (seconds) => ({
      lag: Array.from({ length: seconds }, (_, i) => lag[i] ?? null),
      limitedPerS: Array.from({ length: seconds }, (_, i) => limited[i] ?? null),
    }),
  };
}

/** The one value of a `sum(…)` now, or null (no series, or no answer). */
async function instant(prom: PrometheusClient, expr: string): Promise<number | null> {
  try {
    const [sample] = await prom.query(expr);
    return sample && Number.isFinite(sample.value) ? sample.value : null;
  } catch {
    return null;
  }
}

function fromPrometheus(
  prom: PrometheusClient,
  url: string,
  instance: string | null,
  startedAtMs: number,
  elapsedS: () => number,
): Sampler {
  const sel = instance ? `{instance="${instance}"}` : '';
  const lagExpr = `sum(orders_worker_consumer_lag${sel})`;
  const limitedExpr = `sum(rate(orders_ratelimit_decisions_total{outcome=~"limited|limited_local"}[30s]))`;
  let latest: number | null = null;
  const timer = setInterval(() => {
    void instant(prom, lagExpr).then((v) => {
      latest = v;
    });
  }, 1000);
  const range = async (expr: string, seconds: number): Promise<(number | null)[]> => {
    const out: (number | null)[] = new Array(seconds).fill(null);
    const end = startedAtMs + Math.max(seconds, elapsedS()) * 1000;
    const [series] = await prom.queryRange(expr, startedAtMs, end, 1).catch(() => []);
    for (const [at, v] of series?.points ?? []) {
      const s = Math.floor((at - startedAtMs) / 1000);
      if (s >= 0 && s < seconds && Number.isFinite(v)) out[s] = v;
    }
    return out;
  };
  return {
    source: 'prometheus',
    detail: `${url}: ${lagExpr}, ${limitedExpr}`,
    latestLag: () => latest,
    stop: () => clearInterval(timer),
    async series(seconds) {
      const [lag, limitedPerS] = await Promise.all([range(lagExpr, seconds), range(limitedExpr, seconds)]);
      return { lag, limitedPerS };
    },
  };
}

/**
 * Picks the source: Prometheus when it is up and already holds lag series for this target (its workers'
 * instance when local), else the scraper. `startedAtMs` is the run's start on the wall clock.
 */
export async function startSampler(target: Target, prometheusUrl: string, startedAtMs: number, elapsedS: () => number): Promise<Sampler> {
  const prom = createPrometheusClient(prometheusUrl, { timeoutMs: 5_000 });
  if (await prom.isUp()) {
    const instance = target.local ? new URL(target.local.workersMetricsUrl).host : null;
    const now = await instant(prom, `sum(orders_worker_consumer_lag${instance ? `{instance="${instance}"}` : ''})`);
    if (now !== null) return fromPrometheus(prom, prometheusUrl, instance, startedAtMs, elapsedS);
  }
  return scraper(target, elapsedS);
}
