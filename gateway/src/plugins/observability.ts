/**
 * Request ids, trace context and RED metrics. Every response carries `x-request-id` (the caller's, when it is a sane
 * token, else a fresh one) so a client report can be matched with the logs; every request is counted
 * and timed by route template, method and status.
 */
import { childTraceparent, type Metrics, traceIdOf } from '@orders/platform';
import { Elysia } from 'elysia';
import { newId } from '../ids';

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

/** Each request's `traceparent` for the next hop (the caller's trace, or a new one). */
const traces = new WeakMap<Request, string>();

/** The trace context a request's writes carry on (outbox → Kafka headers → workers → webhooks). */
export function traceOf(request: Request): string | undefined {
  return traces.get(request);
}

export function observability(metrics: Metrics, inflight: { value: number } = { value: 0 }) {
  const duration = metrics.histogram('http_request_duration_seconds', 'HTTP request latency by route', ['method', 'route', 'status']);
  metrics.gauge('http_requests_in_flight', 'Requests received and not yet answered', [], () => inflight.value);
  const started = new WeakMap<Request, number>();
  return new Elysia({ name: 'observability', normalize: false })
    .onRequest(({ request, set }) => {
      inflight.value += 1;
      started.set(request, performance.now());
      const given = request.headers.get('x-request-id');
      set.headers['x-request-id'] = given && REQUEST_ID.test(given) ? given : newId();
      const trace = childTraceparent(request.headers.get('traceparent'));
      traces.set(request, trace);
      // The trace id, so a client (or nginx's log) can find the request's path through the system.
      set.headers['x-trace-id'] = traceIdOf(trace) ?? '';
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
