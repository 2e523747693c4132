/**
 * The payment provider client: every charge and refund carries an idempotency key, so retrying after a
 * timeout can never take the money twice. A decline is an answer (not an error); timeouts, network
 * failures, 5xx, 429 and 409 (the same key still being worked on: a racing retry) are retryable; other
 * 4xx are bugs (permanent).
 */
import { PermanentError, RetryableError } from '../../runtime/stage';

export type ChargeResult = { ok: true; chargeId: string } | { ok: false; code: string; reason: string };

export interface ProviderOptions {
  url: string;
  timeoutMs: number;
}

async function call(
  o: ProviderOptions,
  path: string,
  key: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(`${o.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(o.timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    throw new RetryableError('PAYMENT_PROVIDER_UNREACHABLE', `payment provider did not answer ${path} within ${o.timeoutMs} ms`, {
      cause: err,
    });
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (res.status >= 500) throw new RetryableError('PAYMENT_PROVIDER_ERROR', `payment provider answered ${res.status} to ${path}`);
  if (res.status === 409 || res.status === 429)
    throw new RetryableError('PAYMENT_PROVIDER_BUSY', `payment provider answered ${res.status} to ${path}: try again later`);
  return { status: res.status, json };
}

export class PaymentProvider {
  constructor(private readonly o: ProviderOptions) {}

  async charge(key: string, req: { amountCents: number; currency: string; token: string; reference: string }): Promise<ChargeResult> {
    const { status, json } = await call(this.o, '/v1/charges', key, {
      amount: req.amountCents,
      currency: req.currency,
      source: req.token,
      reference: req.reference,
    });
    if (status === 201 || status === 200) return { ok: true, chargeId: String(json.id) };
    const error = (json.error ?? {}) as { code?: string; message?: string };
    if (status === 402) return { ok: false, code: 'CARD_DECLINED', reason: error.message ?? 'declined by the issuer' };
    throw new PermanentError('PAYMENT_PROVIDER_REFUSED', `payment provider refused the charge (${status} ${error.code ?? ''})`);
  }

  async refund(key: string, req: { chargeId: string; amountCents: number }): Promise<string> {
    const { status, json } = await call(this.o, '/v1/refunds', key, { charge: req.chargeId, amount: req.amountCents });
    if (status === 201 || status === 200) return String(json.id);
    const error = (json.error ?? {}) as { code?: string };
    throw new PermanentError('PAYMENT_REFUND_REFUSED', `payment provider refused the refund (${status} ${error.code ?? ''})`);
  }
}
