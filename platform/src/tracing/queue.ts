/**
 * The span queue between the code that ends spans and the exporter: OpenTelemetry's BatchSpanProcessor
 * (spans leave in batches, by size or after the schedule delay, off the request path), with two things it
 * does not give: a count of the spans it drops when its queue is full (it only logs that through the
 * OpenTelemetry diagnostics), and of the spans exported or lost to failed exports.
 *
 * The bound is kept here, in front of it, at the processor's own queue size: `queued` goes up as a span
 * is handed on and down as the processor hands a batch to the exporter (which it does synchronously,
 * when it takes the batch off its queue), so `queued` is the processor's queue length and the processor
 * itself never reaches its limit. A full queue drops the newest span: ending a span never waits.
 */
import type { Context } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface QueueCounters {
  dropped(n: number): void;
  exported(n: number): void;
  failed(n: number, error: Error | undefined): void;
}

/** The exporter as the batch processor sees it: reports each batch as taken, then how it went. */
export class CountingExporter implements SpanExporter {
  onTaken: (n: number) => void = () => {};

  constructor(
    private readonly inner: SpanExporter,
    private readonly counters: QueueCounters,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.onTaken(spans.length);
    this.inner.export(spans, (result) => {
      // 0 is ExportResultCode.SUCCESS (a const enum in @opentelemetry/core).
      if (result.code === 0) this.counters.exported(spans.length);
      else this.counters.failed(spans.length, result.error);
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

export class BoundedQueue implements SpanProcessor {
  private queued = 0;

  constructor(
    private readonly inner: SpanProcessor,
    exporter: CountingExporter,
    private readonly maxQueueSize: number,
    private readonly counters: QueueCounters,
  ) {
    exporter.onTaken = (n) => {
      this.queued = Math.max(0, this.queued - n);
    };
  }

  /** Spans waiting for the exporter (a gauge). */
  get size(): number {
    return this.queued;
  }

  onStart(span: Span, parentContext: Context): void {
    this.inner.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    // Only sampled spans reach the queue (the processor would skip the others too).
    if ((span.spanContext().traceFlags & 1) === 0) return;
    if (this.queued >= this.maxQueueSize) {
      this.counters.dropped(1);
      return;
    }
    this.queued += 1;
    this.inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}
