import { afterAll, expect, test } from 'bun:test';
import type { Target } from '../target';
import { startSampler, sumMetric } from './sampler';

const queries: string[] = [];
let wallStart = 0;
/** A Prometheus that holds one lag series (5, then 7) and one refusal rate (2/s). */
const prometheus = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch(req) {
    const url = new URL(req.url);
    const q = url.searchParams.get('query') ?? '';
    queries.push(`${url.pathname} ${q}`);
    if (url.pathname === '/-/ready') return new Response('ready');
    if (url.pathname === '/api/v1/query')
      return Response.json({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [0, '5'] }] } });
    const value = q.includes('lag') ? ['5', '7'] : ['2', '2'];
    const values = value.map((v, i) => [(wallStart + i * 1000) / 1000, v]);
    return Response.json({ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values }] } });
  },
});
/** A workers and a gateway /metrics page. */
let limited = 10;
const pages = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch(req) {
    if (new URL(req.url).pathname === '/workers')
      return new Response(
        'orders_worker_consumer_lag{stage="validator",topic="orders.events",partition="0"} 3\norders_worker_consumer_lag{stage="payment",topic="orders.events",partition="1"} 4\n',
      );
    limited += 5;
    return new Response(
      `orders_ratelimit_decisions_total{limit="ip",outcome="limited"} ${limited}\norders_ratelimit_decisions_total{limit="ip",outcome="allowed"} 99\n`,
    );
  },
});
afterAll(() => {
  prometheus.stop(true);
  pages.stop(true);
});

const local: Target = {
  gatewayUrl: 'http://127.0.0.1:18080',
  wsUrls: [],
  loopback: true,
  local: {
    name: 'test',
    workersMetricsUrl: `http://127.0.0.1:${pages.port}/workers`,
    gatewayMetricsUrl: `http://127.0.0.1:${pages.port}/gateway`,
  },
};

test('Prometheus, when it holds the target’s series: range queries over the run, per second', async () => {
  wallStart = Date.now();
  const sampler = await startSampler(local, `http://127.0.0.1:${prometheus.port}`, wallStart, () => 2);
  expect(sampler.source).toBe('prometheus');
  const series = await sampler.series(3);
  sampler.stop();
  expect(series).toEqual({ lag: [5, 7, null], limitedPerS: [2, 2, null] });
  expect(queries).toContain(`/api/v1/query sum(orders_worker_consumer_lag{instance="127.0.0.1:${pages.port}"})`);
});

test('without Prometheus, the local /metrics pages each second; a remote target gets none', async () => {
  const started = performance.now();
  const sampler = await startSampler(local, 'http://127.0.0.1:1', Date.now(), () => (performance.now() - started) / 1000);
  expect(sampler.source).toBe('scraped /metrics');
  await Bun.sleep(2_300);
  sampler.stop();
  const series = await sampler.series(2);
  expect(series.lag).toEqual([7, 7]);
  expect(series.limitedPerS[1]).toBe(5);
  const remote = await startSampler({ ...local, loopback: false, local: null }, 'http://127.0.0.1:1', Date.now(), () => 0);
  expect(remote.source).toBe('none');
  expect(await remote.series(2)).toEqual({ lag: [null, null], limitedPerS: [null, null] });
});

test('sums of a metric over its series', () => {
  expect(sumMetric('a{x="1"} 2\na{x="2"} 3\nab{x="1"} 100\na 4\n', 'a')).toBe(9);
  expect(sumMetric('a{outcome="limited"} 2\na{outcome="allowed"} 3\n', 'a', /outcome="limited"/)).toBe(2);
});
