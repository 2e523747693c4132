/**
 * Tracing for the services (#17): OpenTelemetry spans exported over OTLP, keeping the W3C `traceparent`
 * propagation the platform always had (gateway request → outbox row → Kafka headers → each worker stage
 * → webhook delivery). A service's entry point calls `startTracing` once with its env (`tracingSpec`);
 * the code that makes spans asks `processTracer()`.
 *
 * Without OTEL_EXPORTER_OTLP_ENDPOINT the SDK is not even loaded (sdk.ts is imported on demand) and every
 * span is an off span: the same propagation as before, nothing recorded.
 */
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { QueueCounters } from './queue';
import type { SdkTracerOptions } from './sdk';
import { installTracer, offTracer, type Tracer } from './tracer';

export { Attr } from './attributes';
export type { SdkTracerOptions } from './sdk';
export type { Span, SpanAttributes, SpanKindName } from './span';
export { OffSpan } from './span';
export { installTracer, offTracer, processTracer, type Tracer } from './tracer';

/** What `tracingSpec` (config/fragments.ts) parses to. */
export interface TracingEnv {
  OTEL_EXPORTER_OTLP_ENDPOINT: string;
  OTEL_SERVICE_NAME: string;
  OTEL_TRACES_SAMPLER_ARG: number;
  OTEL_BSP_SCHEDULE_DELAY: number;
  OTEL_BSP_MAX_QUEUE_SIZE: number;
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: number;
  OTEL_BSP_EXPORT_TIMEOUT: number;
  DEPLOY_STAGE?: string;
}

export type TracerWithQueue = Tracer & { readonly queued?: number };

/** Off without an endpoint (and no test exporter); else the SDK tracer, counting into `counters`. */
export async function createTracer(
  service: string,
  env: TracingEnv,
  counters: QueueCounters,
  exporter?: SdkTracerOptions['exporter'],
): Promise<TracerWithQueue> {
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT === '' && !exporter) return offTracer;
  const { SdkTracer } = await import('./sdk');
  return new SdkTracer({
    service: env.OTEL_SERVICE_NAME || service,
    endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
    sampleRatio: env.OTEL_TRACES_SAMPLER_ARG,
    scheduleDelayMs: env.OTEL_BSP_SCHEDULE_DELAY,
    maxQueueSize: env.OTEL_BSP_MAX_QUEUE_SIZE,
    maxExportBatchSize: env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    exportTimeoutMs: env.OTEL_BSP_EXPORT_TIMEOUT,
    environment: env.DEPLOY_STAGE,
    counters,
    exporter,
  });
}

/** At most one warning a minute for each kind of loss; the counter has every one. */
const WARN_EVERY_MS = 60_000;

/**
 * Creates the process's tracer from its env and installs it (`processTracer()`). Spans that leave the
 * process, or do not, are counted in `orders_tracing_spans_total{result=exported|failed|dropped}`; the
 * queue's length is `orders_tracing_queue_spans`. The caller flushes it at shutdown (`shutdown(ms)`).
 */
export async function startTracing(service: string, env: TracingEnv, deps: { logger: Logger; metrics: Metrics }): Promise<Tracer> {
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT === '') return installTracer(offTracer);
  const { logger, metrics } = deps;
  const spans = metrics.counter('tracing_spans_total', 'Sampled spans ended, by what became of them', ['result']);
  const warned = { failed: 0, dropped: 0 };
  const warn = (kind: 'failed' | 'dropped', fields: Record<string, unknown>, msg: string) => {
    if (Date.now() - warned[kind] < WARN_EVERY_MS) return;
    warned[kind] = Date.now();
    logger.warn(fields, msg);
  };
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const tracer = await createTracer(service, env, {
    exported: (n) => spans.inc({ result: 'exported' }, n),
    failed: (n, err) => {
      spans.inc({ result: 'failed' }, n);
      warn('failed', { err, spans: n, endpoint }, 'spans not exported (is the tracing backend reachable?)');
    },
    dropped: (n) => {
      spans.inc({ result: 'dropped' }, n);
      warn('dropped', { maxQueueSize: env.OTEL_BSP_MAX_QUEUE_SIZE }, 'span queue full: spans dropped (OTEL_BSP_MAX_QUEUE_SIZE)');
    },
  });
  metrics.gauge('tracing_queue_spans', 'Spans waiting to be exported', [], () => tracer.queued ?? 0);
  logger.info(
    { endpoint, sampleRatio: env.OTEL_TRACES_SAMPLER_ARG, service: env.OTEL_SERVICE_NAME || service },
    'tracing: exporting spans over OTLP',
  );
  return installTracer(tracer);
}
