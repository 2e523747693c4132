/**
 * Request ids, trace context and RED metrics. Every response carries `x-request-id` (the caller's, when it is a sane
 * token, else a fresh one) so a client report can be matched with the logs; every request is counted
 * and timed by route template, method and status.
 *
 * Every request is a server span (platform/src/tracing), the child of the caller's `traceparent` when it
 * sent one; the span's own context is what the request's writes carry on (outbox → Kafka headers →
 * workers → webhooks), and its trace id is answered as `x-trace-id`. With tracing off the span records
 * nothing and only propagates. Probes and scrapes are never exported: they would bury the traces.
 */
import { Attr, childTraceparent, type Metrics, processTracer, type Span } from '@orders/platform';
import { Elysia } from 'elysia';
import { newId } from '../ids';

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics']);

/** Each request's span; its context is the request's `traceparent` for the next hop. */
const spans = new WeakMap<Request, Span | string>();

/** The trace context a request's writes carry on (outbox → Kafka headers → workers → webhooks). */
export function traceOf(request: Request): string | undefined {
  const s = spans.get(request);
  return typeof s === 'string' ? s : s?.traceparent;
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
      const parent = request.headers.get('traceparent');
      const tracer = processTracer();
      if (!tracer.enabled) {
        // Propagation only, as before tracing: the caller's trace with a new span id, or a new trace.
        const trace = childTraceparent(parent);
        spans.set(request, trace);
        set.headers['x-trace-id'] = trace.slice(3, 35);
        return;
      }
      // Named by the method until the route template is known (a path would make one name per order).
      const span = tracer.start(request.method, 'server', parent, { [Attr.httpMethod]: request.method });
      spans.set(request, span);
      // The trace id, so a client (or nginx's log) can find the request's path through the system.
      set.headers['x-trace-id'] = span.traceId;
    })
    .onAfterResponse({ as: 'global' }, ({ request, route, set, responseValue }) => {
      const t0 = started.get(request);
      if (t0 === undefined) return;
      started.delete(request);
      inflight.value -= 1;
      const status = responseValue instanceof Response ? responseValue.status : typeof set.status === 'number' ? set.status : 200;
      const template = route || 'unmatched';
      duration.observe({ method: request.method, route: template, status: String(status) }, (performance.now() - t0) / 1000);
      const span = spans.get(request);
      // A probe's or a scrape's span is left unended: never exported (they would bury the traces).
      if (typeof span !== 'object' || UNTRACED.has(template)) return;
      if (span.recording) {
        span.rename(`${request.method} ${template}`).set({ [Attr.httpRoute]: route || undefined, [Attr.httpStatus]: status });
        if (status >= 500) span.fail(`HTTP ${status}`);
      }
      span.end();
    });
}
