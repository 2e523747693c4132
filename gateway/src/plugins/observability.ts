/**
 * Request ids and RED metrics. Every response carries `x-request-id` (the caller's, when it is a sane
 * token, else a fresh one) so a client report can be matched with the logs; every request is counted
 * and timed by route template, method and status.
 */
import { randomUUID } from 'node:crypto';
import type { Metrics } from '@orders/platform';
import { Elysia } from 'elysia';

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

export function observability(metrics: Metrics, inflight: { value: number } = { value: 0 }) {
  const duration = metrics.histogram('http_request_duration_seconds', 'HTTP request latency by route', ['method', 'route', 'status']);
  const started = new WeakMap<Request, number>();
  return new Elysia({ name: 'observability', normalize: false })
    .onRequest(({ request, set }) => {
      inflight.value += 1;
      started.set(request, performance.now());
      const given = request.headers.get('x-request-id');
      set.headers['x-request-id'] = given && REQUEST_ID.test(given) ? given : randomUUID();
    })
    .onAfterResponse({ as: 'global' }, ({ request, route, set, responseValue }) => {
      const t0 = started.get(request);
      if (t0 === undefined) return;
      started.delete(request);
      inflight.value -= 1;
      const status = responseValue instanceof Response ? responseValue.status : typeof set.status === 'number' ? set.status : 200;
      duration.observe({ method: request.method, route: route || 'unmatched', status: String(status) }, (performance.now() - t0) / 1000);
    });
}
