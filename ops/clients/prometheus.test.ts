/** The Prometheus client against a stand-in serving the API's documented answers (the real one: ops/telemetry/alerts.suite.ts). */
import { afterAll, describe, expect, test } from 'bun:test';
import { createPrometheusClient, PrometheusError } from './prometheus';

const asked: URL[] = [];
const ok = (data: unknown) => Response.json({ status: 'success', data });
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch(req) {
    const url = new URL(req.url);
    asked.push(url);
    const q = url.searchParams.get('query');
    if (url.pathname === '/-/ready') return new Response('Prometheus Server is Ready.\n');
    if (url.pathname === '/api/v1/query' && q === 'bad(')
      return Response.json({ status: 'error', errorType: 'bad_data', error: 'unexpected end of input' }, { status: 400 });
    if (url.pathname === '/api/v1/query' && q === 'scalar(1)') return ok({ resultType: 'scalar', result: [1700000000.5, '1'] });
    if (url.pathname === '/api/v1/query')
      return ok({
        resultType: 'vector',
        result: [
          { metric: { stage: 'payment' }, value: [1700000000, '12'] },
          { metric: { stage: 'inventory' }, value: [1700000000, '+Inf'] },
        ],
      });
    if (url.pathname === '/api/v1/query_range')
      return ok({
        resultType: 'matrix',
        result: [
          {
            metric: { limit: 'GET /api/v1/orders' },
            values: [
              [1700000000, '0'],
              [1700000005.5, 'NaN'],
            ],
          },
        ],
      });
    if (url.pathname === '/api/v1/alerts')
      return ok({
        alerts: [
          {
            labels: { alertname: 'TargetDown', job: 'ws-edge', severity: 'critical' },
            annotations: { summary: 'down' },
            state: 'firing',
            activeAt: '2026-11-30T12:00:00.5Z',
            value: '0e+00',
          },
        ],
      });
    return new Response('not found', { status: 404 });
  },
});
afterAll(() => server.stop(true));
const prom = createPrometheusClient(`http://127.0.0.1:${server.port}/`);

describe('createPrometheusClient', () => {
  test('query: one sample per series, numbers (infinities included), the time sent in seconds', async () => {
    expect(await prom.query('orders_worker_consumer_lag', new Date(1_700_000_000_250))).toEqual([
      { labels: { stage: 'payment' }, value: 12 },
      { labels: { stage: 'inventory' }, value: Number.POSITIVE_INFINITY },
    ]);
    expect(asked.at(-1)?.searchParams.get('time')).toBe('1700000000.25');
    expect(await prom.query('scalar(1)')).toEqual([{ labels: {}, value: 1 }]);
    expect(asked.at(-1)?.searchParams.has('time')).toBe(false);
  });

  test('queryRange: points as [epoch ms, value], start/end/step as the API takes them', async () => {
    const [series] = await prom.queryRange('sum(rate(x[1m]))', 1_700_000_000_000, new Date(1_700_000_060_000), 5);
    expect(series?.labels).toEqual({ limit: 'GET /api/v1/orders' });
    expect(series?.points[0]).toEqual([1_700_000_000_000, 0]);
    expect(series?.points[1]?.[0]).toBe(1_700_000_005_500);
    expect(series?.points[1]?.[1]).toBeNaN();
    const q = asked.at(-1)?.searchParams;
    expect([q?.get('start'), q?.get('end'), q?.get('step')]).toEqual(['1700000000', '1700000060', '5']);
  });

  test('alerts: name, state, labels, annotations, activeAt in ms, value', async () => {
    expect(await prom.alerts()).toEqual([
      {
        name: 'TargetDown',
        state: 'firing',
        labels: { alertname: 'TargetDown', job: 'ws-edge', severity: 'critical' },
        annotations: { summary: 'down' },
        activeAt: Date.parse('2026-11-30T12:00:00.5Z'),
        value: 0,
      },
    ]);
  });

  test("an error answer throws PROMETHEUS_QUERY_FAILED with Prometheus's message", async () => {
    const err = await prom.query('bad(').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrometheusError);
    expect(err).toMatchObject({ code: 'PROMETHEUS_QUERY_FAILED' });
    expect((err as Error).message).toContain('bad_data: unexpected end of input');
  });

  test('isUp is true when /-/ready answers; nobody listening: false, and queries throw PROMETHEUS_UNREACHABLE', async () => {
    expect(await prom.isUp()).toBe(true);
    const closed = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() });
    const gone = createPrometheusClient(`http://127.0.0.1:${closed.port}`, { timeoutMs: 1_000 });
    closed.stop(true);
    expect(await gone.isUp()).toBe(false);
    expect(await gone.alerts().catch((e: unknown) => e)).toMatchObject({ code: 'PROMETHEUS_UNREACHABLE' });
  });
});
