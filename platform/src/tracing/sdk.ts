/**
 * The recording tracer: OpenTelemetry's SDK behind the platform's small span API. Spans are made by the
 * SDK's tracer with the incoming `traceparent` as their remote parent, sampled parent-based (a sampled
 * parent is followed, a new trace is kept at `sampleRatio`), queued (queue.ts) and sent in batches over
 * OTLP/HTTP (protobuf) to `<endpoint>/v1/traces`.
 *
 * What is not recorded never reaches the SDK: an unsampled parent, and a new trace the ratio leaves out
 * (decided here, before any SDK work: at a ratio of 0.1 nine requests in ten cost an off span and no
 * more). Either gets an off span, which propagates the trace unsampled (so a trace one service dropped is
 * dropped downstream too). The SDK's own sampler therefore only ever sees what is to be recorded.
 * Everything is configured here from the service's env (nothing is read from `OTEL_*` by the SDK itself,
 * and OpenTelemetry's global API is left alone: no global provider, no context manager).
 */
import { hostname } from 'node:os';
import {
  type Span as OtelSpan,
  type Tracer as OtelTracer,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import {
  ATTR_DEPLOYMENT_ENVIRONMENT_NAME,
  ATTR_SERVICE_INSTANCE_ID,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_NAMESPACE,
} from '@opentelemetry/semantic-conventions';
import { formatTraceparent, isSampled, parseTraceparent, rootTraceparent } from '../trace';
import { BoundedQueue, CountingExporter, type QueueCounters } from './queue';
import { OffSpan, type Span, type SpanAttributes, type SpanKindName } from './span';
import { inSpan, type Tracer } from './tracer';

export interface SdkTracerOptions {
  /** `service.name` in the backend (gateway, workers). */
  service: string;
  /** The OTLP/HTTP base endpoint; spans go to `<endpoint>/v1/traces`. */
  endpoint: string;
  /** Share of new traces kept (0–1); a trace begun elsewhere follows its parent's sampled flag. */
  sampleRatio: number;
  /** Longest a span waits in the queue before its batch is sent. */
  scheduleDelayMs: number;
  maxQueueSize: number;
  maxExportBatchSize: number;
  exportTimeoutMs: number;
  /** `deployment.environment.name` (dev, test, staging, prod). */
  environment?: string;
  counters: QueueCounters;
  /** Replaces the OTLP exporter (tests: an in-memory one). */
  exporter?: SpanExporter;
}

const KINDS: Record<SpanKindName, SpanKind> = {
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
  internal: SpanKind.INTERNAL,
};

/** A recorded span behind the platform's API. */
class RecordedSpan implements Span {
  readonly recording = true;
  private own: string | undefined;

  constructor(private readonly span: OtelSpan) {}

  get traceparent(): string {
    if (this.own === undefined) {
      const c = this.span.spanContext();
      this.own = formatTraceparent(c.traceId, c.spanId, true);
    }
    return this.own;
  }

  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  set(attributes: SpanAttributes): this {
    for (const key in attributes) {
      const value = attributes[key];
      if (value !== undefined) this.span.setAttribute(key, value);
    }
    return this;
  }

  rename(name: string): this {
    this.span.updateName(name);
    return this;
  }

  fail(err: unknown): this {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof Error) this.span.recordException(err);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: message.slice(0, 500) });
    return this;
  }

  end(): void {
    this.span.end();
  }
}

/** Drops `undefined` values (the SDK would warn about each). */
function defined(attributes: SpanAttributes | undefined): Record<string, string | number | boolean> | undefined {
  if (!attributes) return undefined;
  const out: Record<string, string | number | boolean> = {};
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

export class SdkTracer implements Tracer {
  readonly enabled = true;
  private readonly provider: BasicTracerProvider;
  private readonly tracer: OtelTracer;
  private readonly queue: BoundedQueue;
  private readonly sampleRatio: number;

  constructor(opts: SdkTracerOptions) {
    this.sampleRatio = opts.sampleRatio;
    const exporter = new CountingExporter(
      opts.exporter ??
        new OTLPTraceExporter({ url: `${opts.endpoint.replace(/\/+$/, '')}/v1/traces`, timeoutMillis: opts.exportTimeoutMs }),
      opts.counters,
    );
    const batches = new BatchSpanProcessor(exporter, {
      scheduledDelayMillis: opts.scheduleDelayMs,
      maxQueueSize: opts.maxQueueSize,
      maxExportBatchSize: Math.min(opts.maxExportBatchSize, opts.maxQueueSize),
      exportTimeoutMillis: opts.exportTimeoutMs,
    });
    this.queue = new BoundedQueue(batches, exporter, opts.maxQueueSize, opts.counters);
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({
        [ATTR_SERVICE_NAME]: opts.service,
        [ATTR_SERVICE_NAMESPACE]: 'orders',
        [ATTR_SERVICE_INSTANCE_ID]: `${hostname()}:${process.pid}`,
        ...(opts.environment ? { [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: opts.environment } : {}),
      }),
      // Sampling is decided in `start`; what reaches the SDK is recorded.
      sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
      spanProcessors: [this.queue],
    });
    this.tracer = this.provider.getTracer('@orders/platform');
  }

  /** Spans waiting to be exported. */
  get queued(): number {
    return this.queue.size;
  }

  start(name: string, kind: SpanKindName, parent: string | null | undefined, attributes?: SpanAttributes): Span {
    const p = parent ? parseTraceparent(parent) : undefined;
    if (p && !isSampled(p)) return new OffSpan(parent);
    // A new trace the ratio leaves out: a new context that travels unsampled, nothing downstream records it.
    if (!p && Math.random() >= this.sampleRatio) return new OffSpan(undefined, rootTraceparent(false));
    const context = p
      ? trace.setSpanContext(ROOT_CONTEXT, { traceId: p.traceId, spanId: p.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true })
      : ROOT_CONTEXT;
    return new RecordedSpan(this.tracer.startSpan(name, { kind: KINDS[kind], attributes: defined(attributes) }, context));
  }

  span<T>(
    name: string,
    kind: SpanKindName,
    parent: string | null | undefined,
    attributes: SpanAttributes | undefined,
    fn: (span: Span) => Promise<T> | T,
  ): Promise<T> {
    return inSpan(this.start(name, kind, parent, attributes), fn);
  }

  async shutdown(timeoutMs = 2_000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    try {
      await Promise.race([this.provider.shutdown().catch(() => {}), late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
