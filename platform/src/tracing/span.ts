/**
 * What the services' code sees of a span: the `traceparent` its next hop carries, attributes, failure,
 * end. Two kinds stand behind it: a recorded OpenTelemetry span (sdk.ts), and the off span here, which
 * records nothing and only propagates, exactly as `childTraceparent` always did. Unsampled traces and
 * processes without an exporter get off spans, so code never asks which kind it holds.
 */
import { childTraceparent } from '../trace';

export type SpanKindName = 'server' | 'client' | 'producer' | 'consumer' | 'internal';

/** Attribute values; `undefined` ones are left out (so optional fields can be passed as they are). */
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

export interface Span {
  /**
   * The `traceparent` the next hop carries (an outbox row, a Kafka header, a webhook request): this
   * span's own context, so the next hop's span is its child. The same value on every read.
   */
  readonly traceparent: string;
  /** The trace id (32 hex digits), for logs and the `x-trace-id` header. */
  readonly traceId: string;
  /** False for an off span: building attributes for it is wasted work. */
  readonly recording: boolean;
  set(attributes: SpanAttributes): this;
  /** Span names are low-cardinality (a route template, not a path); set once the template is known. */
  rename(name: string): this;
  /** Marks the span failed: status ERROR with the message, the error recorded as an exception event. */
  fail(err: unknown): this;
  /** Ends it (a second call does nothing); a recorded span then waits in the exporter's queue. */
  end(): void;
}

/**
 * Records nothing; propagates like `childTraceparent`: the parent's trace and flags (an unsampled
 * parent stays unsampled downstream) with a new span id, or a new sampled trace without a parent.
 * The id is drawn on first read: a span whose context never travels costs no random bytes.
 */
export class OffSpan implements Span {
  readonly recording = false;

  /** `own`: a context already decided (a new trace the sampler left out), carried as it is. */
  constructor(
    private readonly parent: string | null | undefined,
    private own?: string,
  ) {}

  get traceparent(): string {
    this.own ??= childTraceparent(this.parent);
    return this.own;
  }

  get traceId(): string {
    return this.traceparent.slice(3, 35);
  }

  set(): this {
    return this;
  }

  rename(): this {
    return this;
  }

  fail(): this {
    return this;
  }

  end(): void {}
}
