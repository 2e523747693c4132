/**
 * The tracer the services use, and the process's current one. Like OpenTelemetry's global tracer
 * provider, it is installed once by the process's entry point (`startTracing` in index.ts) and asked for
 * where spans are made (`processTracer()`), so the code that makes spans (an HTTP plugin, the outbox, the
 * stage runtime, the webhook sender) needs no tracer threaded through every constructor. Until one is
 * installed, and whenever no exporter is configured, it is the off tracer: no SDK, no span objects beyond
 * a small off span, the same `traceparent` propagation as before tracing existed.
 */
import { OffSpan, type Span, type SpanAttributes, type SpanKindName } from './span';

export interface Tracer {
  /** Whether spans may be recorded at all (an exporter is configured). */
  readonly enabled: boolean;
  /**
   * Starts a span as a child of `parent` (a `traceparent`; absent or malformed: a new trace, sampled at
   * the configured ratio). An unsampled parent gives an off span: nothing recorded, propagation goes on.
   */
  start(name: string, kind: SpanKindName, parent: string | null | undefined, attributes?: SpanAttributes): Span;
  /** Runs `fn` in a span that ends when it settles, failed when it throws. */
  span<T>(
    name: string,
    kind: SpanKindName,
    parent: string | null | undefined,
    attributes: SpanAttributes | undefined,
    fn: (span: Span) => Promise<T> | T,
  ): Promise<T>;
  /** Exports what is queued, waiting at most `timeoutMs`; later spans are not recorded. */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** Shared by both tracers: `span` in terms of `start`. */
export async function inSpan<T>(span: Span, fn: (span: Span) => Promise<T> | T): Promise<T> {
  try {
    return await fn(span);
  } catch (err) {
    span.fail(err);
    throw err;
  } finally {
    span.end();
  }
}

export const offTracer: Tracer = {
  enabled: false,
  start: (_name, _kind, parent) => new OffSpan(parent),
  span: (_name, _kind, parent, _attributes, fn) => inSpan(new OffSpan(parent), fn),
  shutdown: async () => {},
};

let current: Tracer = offTracer;

/** The process's tracer: the off tracer until `installTracer` (or `startTracing`) sets another. */
export function processTracer(): Tracer {
  return current;
}

/** Makes `tracer` the process's tracer (the entry point, once; tests, around a case). Returns it. */
export function installTracer(tracer: Tracer): Tracer {
  current = tracer;
  return tracer;
}
