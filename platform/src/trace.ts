/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header carried from the
 * HTTP request through the outbox and Kafka headers into the workers, and on into webhook deliveries.
 * Each hop keeps the trace id and takes a new span id; an absent or malformed parent starts a trace.
 * With tracing on, the hop's span id is a recorded span's (platform/src/tracing); without it, the same
 * propagation happens here, with nothing recorded.
 */
import { randomFillSync } from 'node:crypto';

export interface TraceContext {
  traceId: string;
  spanId: string;
  flags: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function parseTraceparent(value: string | null | undefined): TraceContext | undefined {
  const m = TRACEPARENT.exec(value?.trim().toLowerCase() ?? '');
  if (!m || m[1] === 'ff') return undefined;
  const [, , traceId, spanId, flags] = m as unknown as [string, string, string, string, string];
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, flags };
}

/** A `traceparent` for the next hop: the parent's trace with a new span, or a new sampled trace. */
export function childTraceparent(parent: string | null | undefined): string {
  const p = parseTraceparent(parent);
  return p ? `00-${p.traceId}-${randomHex(8)}-${p.flags}` : rootTraceparent(true);
}

/** A new trace's first hop (sampled or not: a tracer that left the new trace out says so downstream). */
export function rootTraceparent(sampled: boolean): string {
  return `00-${randomHex(16)}-${randomHex(8)}-${sampled ? '01' : '00'}`;
}

// Span ids are made for every event a stage emits: drawn from a pooled buffer, filled a few hundred ids
// at a time, instead of a call into the random source for each (it showed in the workers' CPU profile).
const pool = Buffer.allocUnsafe(4_096);
let offset = pool.length;

function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

/** A `traceparent` for a span's own context (the next hop's parent). */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

/** Whether a parsed context asks for its trace to be recorded (the `sampled` bit of its flags). */
export function isSampled(context: TraceContext): boolean {
  return (Number.parseInt(context.flags, 16) & 1) === 1;
}

/** The trace id of a `traceparent`, for log lines. */
export function traceIdOf(traceparent: string | null | undefined): string | undefined {
  return parseTraceparent(traceparent)?.traceId;
}
