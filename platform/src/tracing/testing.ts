/**
 * For tests of code that makes spans: a recording tracer whose exporter keeps the spans in memory, in a
 * plain shape (no OpenTelemetry types needed by the test). Not used by production code.
 */
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createTracer, type TracingEnv } from './index';
import type { Tracer } from './tracer';

export interface FinishedSpan {
  name: string;
  /** OpenTelemetry's SpanKind: 0 internal, 1 server, 2 client, 3 producer, 4 consumer. */
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  /** 0 unset, 1 ok, 2 error. */
  status: number;
}

/** A tracer that records every sampled span; `finished()` shuts it down and returns them. */
/** Tracing settings for tests: an export every 10 ms, a 1 s timeout, every new trace recorded. */
export function testTracingEnv(overrides: Partial<TracingEnv> = {}): TracingEnv {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
    OTEL_SERVICE_NAME: '',
    OTEL_TRACES_SAMPLER_ARG: 1,
    OTEL_BSP_SCHEDULE_DELAY: 10,
    OTEL_BSP_MAX_QUEUE_SIZE: 2_048,
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 512,
    OTEL_BSP_EXPORT_TIMEOUT: 1_000,
    ...overrides,
  };
}

export async function recordingTracer(
  overrides: Partial<TracingEnv> = {},
): Promise<{ tracer: Tracer; finished(): Promise<FinishedSpan[]> }> {
  const spans: FinishedSpan[] = [];
  const exporter: SpanExporter = {
    export(batch: ReadableSpan[], done) {
      for (const s of batch) {
        const c = s.spanContext();
        spans.push({
          name: s.name,
          kind: s.kind,
          traceId: c.traceId,
          spanId: c.spanId,
          parentSpanId: s.parentSpanContext?.spanId,
          attributes: { ...s.attributes },
          status: s.status.code,
        });
      }
      done({ code: 0 });
    },
    shutdown: async () => {},
  };
  const env = testTracingEnv(overrides);
  const tracer = await createTracer('test', env, { exported() {}, failed() {}, dropped() {} }, exporter);
  return {
    tracer,
    async finished() {
      await tracer.shutdown(1_000);
      return spans;
    },
  };
}
