/**
 * The payment provider client: every charge and refund carries an idempotency key, so retrying after a
 * timeout can never take the money twice. A decline is an answer (not an error); timeouts, network
 * failures, 5xx, 429 and 409 (the same key still being worked on: a racing retry) are retryable; other
 * 4xx are bugs (permanent).
 */
import http from 'node:http';
import https from 'node:https';
import { WorkerErrorCodes } from '../../error-codes';
import { PermanentError, RetryableError } from '../../runtime/stage';
import { type PaymentFailureReason, PaymentFailureReasons } from '../reasons';

export type ChargeResult = { ok: true; chargeId: string } | { ok: false; code: PaymentFailureReason; reason: string };

export interface ProviderOptions {
  url: string;
  timeoutMs: number;
  /** Connections kept open to the provider: as many as calls in flight at once. */
  maxSockets?: number;
}

interface Transport {
  /** The provider's base URL as configured; paths are appended to it. */
  base: string;
  request: typeof http.request;
  agent: http.Agent;
  timeoutMs: number;
}

/**
 * Node's own HTTP client on a keep-alive agent: fetch (undici) with an abort signal per call was about a
 * tenth of the workers' CPU profile at 500 orders/s, most of it streams, signals and their exceptions.
 */
function createTransport({ url, timeoutMs, maxSockets }: ProviderOptions): Transport {
  const secure = new URL(url).protocol === 'https:';
  const agentOptions = { keepAlive: true, maxSockets: maxSockets ?? 64 };
  return {
    base: url,
    request: secure ? https.request : http.request,
    agent: secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions),
    timeoutMs,
  };
}

function call(transport: Transport, path: string, key: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const unreachable = (cause: unknown) =>
    new RetryableError(
      WorkerErrorCodes.paymentProviderUnreachable,
      `payment provider did not answer ${path} within ${transport.timeoutMs} ms`,
      {
        cause,
      },
    );
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = transport.request(
      new URL(`${transport.base}${path}`),
      {
        method: 'POST',
        agent: transport.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'idempotency-key': key },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => done(unreachable(err)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          } catch {
            // A body that is not JSON: the status alone decides.
          }
          if (status >= 500)
            return done(new RetryableError(WorkerErrorCodes.paymentProviderError, `payment provider answered ${status} to ${path}`));
          if (status === 409 || status === 429)
            return done(
              new RetryableError(WorkerErrorCodes.paymentProviderBusy, `payment provider answered ${status} to ${path}: try again later`),
            );
          // Redirects are never followed (a payment call must reach the provider it was meant for).
          if (status >= 300 && status < 400) return done(unreachable(new Error(`redirected (${status})`)));
          done(undefined, { status, json });
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new Error('timed out')), transport.timeoutMs);
    let settled = false;
    function done(err: unknown, value?: { status: number; json: Record<string, unknown> }) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value as { status: number; json: Record<string, unknown> });
    }
    req.on('error', (err) => done(unreachable(err)));
    req.end(payload);
  });
}

export class PaymentProvider {
  private readonly transport: Transport;

  constructor(options: ProviderOptions) {
    this.transport = createTransport(options);
  }

  async charge(key: string, req: { amountCents: number; currency: string; token: string; reference: string }): Promise<ChargeResult> {
    const { status, json } = await call(this.transport, '/v1/charges', key, {
      amount: req.amountCents,
      currency: req.currency,
      source: req.token,
      reference: req.reference,
    });
    if (status === 201 || status === 200) return { ok: true, chargeId: String(json.id) };
    const error = (json.error ?? {}) as { code?: string; message?: string };
    if (status === 402) return { ok: false, code: PaymentFailureReasons.cardDeclined, reason: error.message ?? 'declined by the issuer' };
    throw new PermanentError(
      WorkerErrorCodes.paymentProviderRefused,
      `payment provider refused the charge (${status} ${error.code ?? ''})`,
    );
  }

  async refund(key: string, req: { chargeId: string; amountCents: number }): Promise<string> {
    const { status, json } = await call(this.transport, '/v1/refunds', key, { charge: req.chargeId, amount: req.amountCents });
    if (status === 201 || status === 200) return String(json.id);
    const error = (json.error ?? {}) as { code?: string };
    throw new PermanentError(WorkerErrorCodes.paymentRefundRefused, `payment provider refused the refund (${status} ${error.code ?? ''})`);
  }
}
