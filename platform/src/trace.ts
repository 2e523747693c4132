/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header carried from the
 * HTTP request through the outbox and Kafka headers into the workers, and on into webhook deliveries.
 * Each hop keeps the trace id and takes a new span id; an absent or malformed parent starts a trace.
 */
import { randomBytes } from 'node:crypto';

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
  return `00-${p?.traceId ?? randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-${p?.flags ?? '01'}`;
}

/** The trace id of a `traceparent`, for log lines. */
export function traceIdOf(traceparent: string | null | undefined): string | undefined {
  return parseTraceparent(traceparent)?.traceId;
}
