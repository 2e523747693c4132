/**
 * One webhook attempt on the wire: the endpoint's custom headers, then the Standard Webhooks headers
 * (every valid secret signs; they always win) and one POST with a timeout. Redirects are not followed (only 2xx is success); the connection goes to an address
 * checked at connect time (SSRF: DestinationPolicy); what is read back is bounded.
 *
 * With tracing on, an attempt is a client span, the child of the message's context (the fan-out's span
 * for the event), with the endpoint, the attempt number and the answer's status; the receiver gets that
 * span's `traceparent`. Off, it gets the message's context as it is.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { Attr, type DestinationPolicy, processTracer, sign, UnsafeDestinationError } from '@orders/platform';
import { deliverableHeaders } from '@orders/platform/webhooks/custom-headers';
import type { Claimed } from './claim';

/** What became of one POST: an answer (status, the start of its body), or why there was none. */
export interface AttemptResult {
  status?: number;
  body?: string;
  error?: string;
  retryAfter?: string | null;
  ms: number;
}

const RESPONSE_KEPT = 1_024;
const RESPONSE_READ = 64 * 1_024;
const USER_AGENT = 'order-platform-webhooks/1.0';
const noNul = (text: string) => text.replaceAll('\u0000', '');

export interface Destination {
  policy: DestinationPolicy;
  timeoutMs: number;
}

/** One attempt at a claimed message: signed, sent, and traced (a client span when tracing is on). */
export async function attempt(
  m: Claimed,
  secrets: string[],
  custom: Record<string, string>,
  destination: Destination,
): Promise<AttemptResult> {
  const tracer = processTracer();
  if (!tracer.enabled) {
    const { body, headers } = signedRequest(m, secrets, custom);
    return post(m.url, headers, body, destination);
  }
  const span = tracer.start('POST webhook', 'client', m.traceparent, {
    [Attr.httpMethod]: 'POST',
    [Attr.serverAddress]: hostOf(m.url),
    [Attr.webhookEndpoint]: m.endpoint_id,
    [Attr.webhookMessage]: m.id,
    [Attr.attempt]: m.attempts + 1,
  });
  try {
    const { body, headers } = signedRequest(m, secrets, custom, span.recording ? span.traceparent : m.traceparent);
    const result = await post(m.url, headers, body, destination);
    if (span.recording) {
      span.set({ [Attr.httpStatus]: result.status });
      if (result.status === undefined || result.status < 200 || result.status >= 300) {
        span.set({ [Attr.errorType]: result.status === undefined ? 'no_answer' : String(result.status) });
        span.fail(result.error ?? `HTTP ${result.status}`);
      }
    }
    return result;
  } finally {
    span.end();
  }
}

function hostOf(raw: string): string | undefined {
  try {
    return new URL(raw).hostname;
  } catch {
    return undefined;
  }
}

/**
 * The message's body and headers; `secrets` are the endpoint's current one and any still valid, `custom`
 * the endpoint's own headers (opened), of which reserved or malformed ones are left out. `traceparent`:
 * the context the receiver continues (the attempt's span, or the message's own).
 */
export function signedRequest(
  m: Claimed,
  secrets: string[],
  custom: Record<string, string> = {},
  traceparent: string | null = m.traceparent,
): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(m.payload);
  const webhookId = `msg_${m.id.replaceAll('-', '')}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    // First, so the dispatcher's own headers below replace any of the same name.
    ...deliverableHeaders(custom),
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'webhook-id': webhookId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': sign(secrets, webhookId, timestamp, body),
    // The trace of the request that caused the event, so a receiver that traces can join it.
    ...(traceparent ? { traceparent } : {}),
  };
  return { body, headers };
}

/** One POST: never follows redirects, bounded in time and in what it reads back. */
export async function post(
  raw: string,
  headers: Record<string, string>,
  body: string,
  { policy, timeoutMs }: Destination,
): Promise<AttemptResult> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  let url: URL;
  try {
    url = policy.checkUrl(raw);
    // IP literals never reach `lookup`: check them here. Names are resolved and checked by `lookup` at
    // connect time, inside the request's own timeout (a DNS server that never answers costs one attempt).
    if (isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0) await policy.resolve(url.hostname);
  } catch (err) {
    return { error: `refused: ${(err as Error).message}`, ms: ms() };
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const done = (r: Omit<AttemptResult, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, ms: ms() });
    };
    const req = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: policy.lookup as never,
        agent: false,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < RESPONSE_READ) chunks.push(c);
          size += c.length;
          if (size >= RESPONSE_READ) res.destroy();
        });
        const finish = () =>
          done({
            status: res.statusCode,
            // PostgreSQL text cannot hold NUL: a receiver's binary answer must not break the record.
            body: noNul(Buffer.concat(chunks).toString('utf8').slice(0, RESPONSE_KEPT)),
            retryAfter: res.headers['retry-after'] ?? null,
          });
        res.on('end', finish);
        res.on('close', finish);
        res.on('error', finish);
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      done({ error: `timed out after ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('error', (err) =>
      done({
        error: noNul(
          err instanceof UnsafeDestinationError
            ? `refused: ${err.message}`
            : `${(err as NodeJS.ErrnoException).code ?? 'error'}: ${err.message}`,
        ),
      }),
    );
    req.end(body);
  });
}
