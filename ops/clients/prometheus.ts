/**
 * A small typed client of Prometheus's HTTP API (v1), for the suites and the load-test report: the local
 * one is `npm run observability -- up` (ops/local/components/prometheus.mjs exports its `url(cfg)`).
 *
 *   const prom = createPrometheusClient('http://127.0.0.1:9090');
 *   if (await prom.isUp()) {
 *     const lag = await prom.queryRange('sum by (stage) (orders_worker_consumer_lag)', startedAt, Date.now(), 5);
 *   }
 *
 * Times going in are a Date or epoch milliseconds (Date.now()); times coming out are epoch milliseconds.
 * Values are plain numbers (Prometheus's "NaN", "+Inf", "-Inf" included). Return shapes:
 *
 *   query(expr, time?)                 → Sample[]   { labels: Record<string, string>, value: number }
 *                                        one per series of an instant vector; a scalar is one Sample with
 *                                        no labels; an empty result is []
 *   queryRange(expr, start, end, stepS) → Series[]  { labels, points: [timeMs: number, value: number][] }
 *   alerts()                           → Alert[]    { name, state: 'pending' | 'firing', labels (alertname
 *                                        included), annotations, activeAt: timeMs, value: number }
 *                                        (only active alerts: Prometheus does not list resolved ones)
 *   isUp()                             → boolean    /-/ready answers 200 within 2 s; never throws
 *
 * The others throw a PrometheusError: code PROMETHEUS_UNREACHABLE (no answer within the timeout) or
 * PROMETHEUS_QUERY_FAILED (an error answer, e.g. a bad expression; Prometheus's message included).
 */

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface Series {
  labels: Record<string, string>;
  /** [epoch ms, value], in time order. */
  points: [number, number][];
}

export interface Alert {
  name: string;
  state: 'pending' | 'firing';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** When the condition started to hold (epoch ms). */
  activeAt: number;
  value: number;
}

export interface PrometheusClient {
  query(expr: string, time?: Date | number): Promise<Sample[]>;
  queryRange(expr: string, start: Date | number, end: Date | number, stepS: number): Promise<Series[]>;
  alerts(): Promise<Alert[]>;
  isUp(): Promise<boolean>;
}

export const PrometheusErrorCodes = {
  unreachable: 'PROMETHEUS_UNREACHABLE',
  queryFailed: 'PROMETHEUS_QUERY_FAILED',
} as const;

export class PrometheusError extends Error {
  constructor(
    readonly code: (typeof PrometheusErrorCodes)[keyof typeof PrometheusErrorCodes],
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PrometheusError';
  }
}

type Value = [number, string];
type ApiData =
  | { resultType: 'vector'; result: { metric: Record<string, string>; value: Value }[] }
  | { resultType: 'matrix'; result: { metric: Record<string, string>; values: Value[] }[] }
  | { resultType: 'scalar' | 'string'; result: Value };

interface ApiAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

/** Prometheus spells infinities the Go way ("+Inf"), which Number() does not read. */
function sampleValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** Seconds since the epoch, as the API takes them (fractions allowed). */
function apiTime(t: Date | number): string {
  return String((t instanceof Date ? t.getTime() : t) / 1000);
}

/** @param timeoutMs per request (queries over long ranges may take a while). */
export function createPrometheusClient(baseUrl: string, { timeoutMs = 10_000 }: { timeoutMs?: number } = {}): PrometheusClient {
  const base = baseUrl.replace(/\/+$/, '');

  async function get<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const url = `${base}${path}${Object.keys(params).length ? `?${new URLSearchParams(params)}` : ''}`;
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new PrometheusError(PrometheusErrorCodes.unreachable, `Prometheus at ${base} did not answer ${path}`, { cause: err });
    }
    const body = (await res.json().catch(() => null)) as { status?: string; data?: T; errorType?: string; error?: string } | null;
    if (!res.ok || body?.status !== 'success' || body.data === undefined)
      throw new PrometheusError(
        PrometheusErrorCodes.queryFailed,
        `Prometheus ${path} answered ${res.status}${body?.error ? `: ${body.errorType ?? 'error'}: ${body.error}` : ''}`,
      );
    return body.data;
  }

  return {
    async query(expr, time) {
      const data = await get<ApiData>('/api/v1/query', { query: expr, ...(time === undefined ? {} : { time: apiTime(time) }) });
      if (data.resultType === 'vector') return data.result.map((r) => ({ labels: r.metric, value: sampleValue(r.value[1]) }));
      if (data.resultType === 'scalar') return [{ labels: {}, value: sampleValue(data.result[1]) }];
      throw new PrometheusError(PrometheusErrorCodes.queryFailed, `query(${expr}) gave a ${data.resultType}, not an instant vector`);
    },

    async queryRange(expr, start, end, stepS) {
      const data = await get<ApiData>('/api/v1/query_range', {
        query: expr,
        start: apiTime(start),
        end: apiTime(end),
        step: String(stepS),
      });
      if (data.resultType !== 'matrix')
        throw new PrometheusError(PrometheusErrorCodes.queryFailed, `queryRange(${expr}) gave a ${data.resultType}, not a matrix`);
      return data.result.map((r) => ({
        labels: r.metric,
        points: r.values.map(([t, v]): [number, number] => [Math.round(t * 1000), sampleValue(v)]),
      }));
    },

    async alerts() {
      const data = await get<{ alerts: ApiAlert[] }>('/api/v1/alerts');
      return data.alerts.map((a) => ({
        name: a.labels.alertname ?? '',
        state: a.state,
        labels: a.labels,
        annotations: a.annotations,
        activeAt: Date.parse(a.activeAt),
        value: sampleValue(a.value),
      }));
    },

    async isUp() {
      try {
        const res = await fetch(`${base}/-/ready`, { signal: AbortSignal.timeout(Math.min(timeoutMs, 2_000)) });
        await res.body?.cancel();
        return res.ok;
      } catch {
        return false;
      }
    },
  };
}
