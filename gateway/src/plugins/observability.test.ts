/** Request spans: named by route template, children of the caller's context, their context handed on; probes never exported. */
import { afterEach, describe, expect, test } from 'bun:test';
import { createMetrics, installTracer, offTracer, parseTraceparent } from '@orders/platform';
import { recordingTracer } from '@orders/platform/tracing/testing';
import { Elysia } from 'elysia';
import { observability, traceOf } from './observability';

const CALLER = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** An app with the plugin and a few routes; `handed` gets what a route's writes would carry on. */
function app(handed: (string | undefined)[]) {
  return new Elysia()
    .use(observability(createMetrics('test', { defaultMetrics: false })))
    .get('/orders/:id', ({ request }) => {
      handed.push(traceOf(request));
      return { ok: true };
    })
    .get('/boom', ({ set }) => {
      set.status = 503;
      return 'down';
    })
    .get('/healthz', () => 'ok');
}

afterEach(() => {
  installTracer(offTracer);
});

describe('request spans', () => {
  test('off: the caller’s trace goes on with a new span id, answered as x-trace-id', async () => {
    const handed: (string | undefined)[] = [];
    const res = await app(handed).handle(new Request('http://localhost/orders/1', { headers: { traceparent: CALLER } }));
    expect(res.headers.get('x-trace-id')).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    const own = parseTraceparent(handed[0]);
    expect(own?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(own?.spanId).not.toBe('00f067aa0ba902b7');
  });

  test('on: a server span per request under the caller’s, by route template and status; probes not exported', async () => {
    const { tracer, finished } = await recordingTracer();
    installTracer(tracer);
    const handed: (string | undefined)[] = [];
    const a = app(handed);
    const res = await a.handle(new Request('http://localhost/orders/123', { headers: { traceparent: CALLER } }));
    expect(res.status).toBe(200);
    await a.handle(new Request('http://localhost/boom'));
    await a.handle(new Request('http://localhost/healthz'));
    // Elysia runs the after-response hooks (where the span ends) once the response is handed over.
    await Bun.sleep(0);
    const spans = await finished();
    expect(spans.map((s) => s.name)).toEqual(['GET /orders/:id', 'GET /boom']);
    const [order, boom] = spans;
    expect(order?.kind).toBe(1);
    expect(order?.parentSpanId).toBe('00f067aa0ba902b7');
    expect(order?.attributes).toEqual({ 'http.request.method': 'GET', 'http.route': '/orders/:id', 'http.response.status_code': 200 });
    // What the request's writes carry on is the request span's own context.
    expect(handed[0]).toBe(`00-${order?.traceId}-${order?.spanId}-01`);
    expect(res.headers.get('x-trace-id')).toBe(order?.traceId ?? '');
    expect(boom?.parentSpanId).toBeUndefined();
    expect(boom?.status).toBe(2);
  });
});
