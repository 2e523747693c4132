/** The tracer: off without an endpoint (today's propagation, no SDK), sampling by flags and ratio, parent links, the bounded queue. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { parseTraceparent } from '../trace';
import { createTracer, offTracer, processTracer, type TracingEnv } from './index';
import type { QueueCounters } from './queue';
import { testTracingEnv } from './testing';

const SAMPLED = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const UNSAMPLED = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';

const env = testTracingEnv;

function counting() {
  const seen = { exported: 0, failed: 0, dropped: 0 };
  const counters: QueueCounters = {
    exported: (n) => {
      seen.exported += n;
    },
    failed: (n) => {
      seen.failed += n;
    },
    dropped: (n) => {
      seen.dropped += n;
    },
  };
  return { seen, counters };
}

async function recorder(overrides: Partial<TracingEnv> = {}) {
  const spans: ReadableSpan[] = [];
  const exporter: SpanExporter = {
    export: (batch, done) => {
      spans.push(...batch);
      done({ code: 0 });
    },
    shutdown: async () => {},
  };
  const { seen, counters } = counting();
  const tracer = await createTracer('test', env(overrides), counters, exporter);
  const finished = async () => {
    await tracer.shutdown(1_000);
    return spans;
  };
  return { tracer, finished, seen };
}

/**
 * The modules `@orders/platform` loads at start-up, found by following its static imports (type-only
 * ones are erased; dynamic `import()` is how the SDK is loaded, only when tracing is on).
 */
function staticImports(entry: string): { files: string[]; packages: Set<string> } {
  const files: string[] = [];
  const packages = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (files.includes(file)) continue;
    files.push(file);
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(/^\s*(?:import|export)\s+(type\s)?[^;]*?from\s+'([^']+)';/gms)) {
      const [, typeOnly, spec] = m as unknown as [string, string | undefined, string];
      if (typeOnly) continue;
      if (!spec.startsWith('.')) {
        packages.add(spec);
        continue;
      }
      const base = join(dirname(file), spec);
      const resolved = [`${base}.ts`, join(base, 'index.ts')].find((f) => existsSync(f));
      if (resolved) pending.push(resolved);
    }
  }
  return { files, packages };
}

describe('tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  it('loads nothing of OpenTelemetry: the SDK is imported only when an endpoint is set', () => {
    const src = join(dirname(fileURLToPath(import.meta.url)), '..');
    const { files, packages } = staticImports(join(src, 'index.ts'));
    assert.ok(
      files.some((f) => f.endsWith(join('tracing', 'tracer.ts'))),
      'the walk reaches the tracing module',
    );
    assert.ok(!files.some((f) => f.endsWith(join('tracing', 'sdk.ts'))), 'sdk.ts is not imported statically');
    const otel = [...packages].filter((p) => p.startsWith('@opentelemetry/'));
    assert.deepEqual(otel, [], `statically imported from ${files.map((f) => relative(src, f)).join(', ')}`);
  });

  it('is the off tracer, also before anything is installed', async () => {
    assert.equal(await createTracer('test', env(), counting().counters), offTracer);
    assert.equal(processTracer(), offTracer);
    assert.equal(offTracer.enabled, false);
  });

  it('propagates as childTraceparent did: same trace and flags, a new span id, a new sampled trace without a parent', () => {
    for (const parent of [SAMPLED, UNSAMPLED]) {
      const span = offTracer.start('x', 'consumer', parent, { ignored: 'yes' });
      assert.equal(span.recording, false);
      const own = parseTraceparent(span.traceparent);
      const given = parseTraceparent(parent);
      assert.equal(own?.traceId, given?.traceId);
      assert.equal(own?.flags, given?.flags);
      assert.notEqual(own?.spanId, given?.spanId);
      assert.equal(span.traceparent, span.traceparent, 'one context per span');
      assert.equal(span.traceId, given?.traceId);
    }
    for (const parent of [undefined, null, 'garbage']) {
      const fresh = parseTraceparent(offTracer.start('x', 'server', parent).traceparent);
      assert.ok(fresh);
      assert.equal(fresh.flags, '01');
    }
  });

  it('runs a function in a span and passes its result and errors through', async () => {
    assert.equal(await offTracer.span('x', 'internal', SAMPLED, undefined, () => 42), 42);
    await assert.rejects(
      offTracer.span('x', 'internal', SAMPLED, undefined, () => {
        throw new Error('boom');
      }),
      /boom/,
    );
  });
});

describe('tracing on', () => {
  it('records a sampled parent’s child with the parent link, and hands on its own context', async () => {
    const { tracer, finished } = await recorder();
    const request = tracer.start('POST /api/v1/orders', 'server', SAMPLED, { 'http.request.method': 'POST', skipped: undefined });
    assert.equal(request.recording, true);
    const own = parseTraceparent(request.traceparent);
    assert.equal(own?.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(own?.flags, '01');
    const stage = tracer.start('validator order.placed', 'consumer', request.traceparent);
    stage.set({ 'orders.outcome': 'handled' }).fail(new Error('declined'));
    stage.end();
    request.end();
    const spans = await finished();
    assert.equal(spans.length, 2);
    const byName = new Map(spans.map((s) => [s.name, s]));
    const server = byName.get('POST /api/v1/orders') as ReadableSpan;
    const consumer = byName.get('validator order.placed') as ReadableSpan;
    assert.equal(server.parentSpanContext?.spanId, '00f067aa0ba902b7');
    assert.equal(consumer.parentSpanContext?.spanId, server.spanContext().spanId);
    assert.equal(consumer.spanContext().traceId, server.spanContext().traceId);
    assert.deepEqual(Object.keys(server.attributes), ['http.request.method']);
    assert.equal(consumer.attributes['orders.outcome'], 'handled');
    assert.equal(consumer.status.code, 2, 'ERROR');
    assert.equal(server.resource.attributes['service.name'], 'test');
  });

  it('honours an unsampled parent: nothing recorded, the trace goes on unsampled', async () => {
    const { tracer, finished } = await recorder();
    const span = tracer.start('x', 'consumer', UNSAMPLED);
    assert.equal(span.recording, false);
    const own = parseTraceparent(span.traceparent);
    assert.equal(own?.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(own?.flags, '00');
    span.end();
    assert.equal((await finished()).length, 0);
  });

  it('samples new traces at OTEL_TRACES_SAMPLER_ARG and follows a sampled parent whatever the ratio', async () => {
    const none = await recorder({ OTEL_TRACES_SAMPLER_ARG: 0 });
    const root = none.tracer.start('GET /x', 'server', undefined);
    assert.equal(root.recording, false);
    assert.equal(parseTraceparent(root.traceparent)?.flags, '00', 'a trace left out stays out downstream');
    root.end();
    const followed = none.tracer.start('GET /x', 'server', SAMPLED);
    assert.equal(followed.recording, true);
    followed.end();
    assert.equal((await none.finished()).length, 1);

    const all = await recorder({ OTEL_TRACES_SAMPLER_ARG: 1 });
    for (let i = 0; i < 20; i++) all.tracer.start('GET /x', 'server', undefined).end();
    assert.equal((await all.finished()).length, 20);
  });

  it('drops spans beyond the queue bound and counts them, without waiting', async () => {
    // An exporter that never answers: the first batch stays in flight, the queue fills behind it.
    const stuck: SpanExporter = { export: (_s: ReadableSpan[], _done: (r: ExportResult) => void) => {}, shutdown: async () => {} };
    const { seen, counters } = counting();
    const tracer = await createTracer('test', env({ OTEL_BSP_MAX_QUEUE_SIZE: 2, OTEL_BSP_SCHEDULE_DELAY: 60_000 }), counters, stuck);
    for (let i = 0; i < 6; i++) tracer.start('x', 'internal', SAMPLED).end();
    // Two went to the exporter, two wait behind them, two were dropped.
    assert.equal(seen.dropped, 2);
    assert.equal(tracer.queued, 2);
    const t0 = Date.now();
    await tracer.shutdown(200);
    assert.ok(Date.now() - t0 < 1_000, 'shutdown is bounded');
  });

  it('counts failed exports', async () => {
    const failing: SpanExporter = { export: (_s, done) => done({ code: 1, error: new Error('refused') }), shutdown: async () => {} };
    const { seen, counters } = counting();
    const tracer = await createTracer('test', env(), counters, failing);
    tracer.start('x', 'internal', SAMPLED).end();
    await tracer.shutdown(500);
    assert.equal(seen.failed, 1);
    assert.equal(seen.exported, 0);
  });
});
