/**
 * What clients do while the faults happen, and the history of what they were told (the Jepsen way:
 * the checker compares this history with what the system did):
 *   - customers place orders (a retried POST keeps its Idempotency-Key until it gets a final answer, as
 *     the README tells clients to), read them back, and cancel some;
 *   - one WebSocket feed per customer that reconnects and resumes after the last sequence it holds;
 *   - webhook receivers that verify every signature with the reference implementation (./webhook-receiver.ts).
 */
import { randomUUID } from 'node:crypto';
import { urls } from './stack';

export interface Attempt {
  at: number;
  ms: number;
  /** HTTP status, or 0 when no answer came (connection refused or reset, timeout). */
  status: number;
  code?: string;
  contentType?: string;
}

export interface PlaceOp {
  key: string;
  user: number;
  sku: string;
  quantity: number;
  attempts: Attempt[];
  /** The order id of the first 201; every later replay must name the same one. */
  orderId?: string;
  /** Order ids in any 201 or replay (more than one would be a broken idempotency key). */
  ids: Set<string>;
  /** A final refusal (4xx other than 409 in-progress and 429). */
  refused?: number;
  cancel?: Attempt & { wanted: boolean };
}

export interface Customer {
  token: string;
  userId: string;
  email: string;
}

const CLIENT_TIMEOUT_MS = 5_000;

/** One request to the gateway as a client makes it (5 s timeout); never throws: no answer is status 0. */
export async function call(method: string, path: string, token: string | null, body?: unknown, headers: Record<string, string> = {}) {
  const started = Date.now();
  try {
    const res = await fetch(`${urls.gateway}${path}`, {
      method,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      // not JSON: the checker flags it through contentType
    }
    const attempt: Attempt = {
      at: started,
      ms: Date.now() - started,
      status: res.status,
      code: typeof json.code === 'string' ? json.code : undefined,
      contentType: res.headers.get('content-type') ?? '',
    };
    return { attempt, json };
  } catch {
    return { attempt: { at: started, ms: Date.now() - started, status: 0 } as Attempt, json: {} as Record<string, unknown> };
  }
}

export async function newCustomer(): Promise<Customer> {
  const email = `chaos-${randomUUID()}@example.com`;
  for (let i = 0; ; i++) {
    const res = await fetch(`${urls.gateway}/api/v1/auth/dev-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, role: 'customer' }),
    }).catch(() => null);
    if (res?.status === 200) {
      const b = (await res.json()) as { accessToken: string; userId: string };
      return { token: b.accessToken, userId: b.userId, email };
    }
    if (i > 20) throw new Error(`dev-token: ${res?.status}`);
    await Bun.sleep(250);
  }
}

/** Retries whose answer may still come: no answer, 5xx, 429, and 409 "the same key is in progress". */
const retryable = (a: Attempt) => a.status === 0 || a.status >= 500 || a.status === 429 || a.code === 'IDEMPOTENCY_KEY_IN_FLIGHT';

export class Shop {
  readonly ops: PlaceOp[] = [];
  readonly reads: Attempt[] = [];
  /** Retrying stops for good at this time (set when the faults are over, plus a grace). */
  retryUntil = Number.POSITIVE_INFINITY;
  private stopped = false;
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly customers: Customer[],
    private readonly skus: string[],
    /** Orders per second across all customers (open loop: each customer on its own schedule). */
    private readonly rate: number,
  ) {}

  start(): void {
    const every = (1000 * this.customers.length) / this.rate;
    this.customers.forEach((_, u) => {
      this.loops.push(this.loop(u, every));
    });
  }

  private async loop(user: number, every: number): Promise<void> {
    await Bun.sleep(Math.random() * every);
    const inFlight: Promise<void>[] = [];
    let next = Date.now();
    while (!this.stopped) {
      inFlight.push(this.place(user));
      // Bounded per customer: a hanging dependency must not pile up thousands of requests.
      if (inFlight.length >= 8) await Promise.race(inFlight.map((p, i) => p.then(() => i))).then((i) => inFlight.splice(i, 1));
      next += every;
      await Bun.sleep(Math.max(0, next - Date.now()));
    }
    await Promise.all(inFlight);
  }

  private async place(user: number): Promise<void> {
    const c = this.customers[user] as Customer;
    const n = this.ops.length;
    const sku = this.skus[n % this.skus.length] as string;
    const op: PlaceOp = { key: randomUUID(), user, sku, quantity: 1 + (n % 3), attempts: [], ids: new Set() };
    this.ops.push(op);
    // Mostly good cards; some declined (the order fails before payment), some flaky (the provider's first answer is a 503).
    const card = n % 17 === 0 ? 'pm_decline_chaos' : n % 11 === 0 ? 'pm_flaky_chaos' : 'pm_card_visa';
    const body = { items: [{ sku, quantity: op.quantity }], paymentMethodToken: card };
    let backoff = 200;
    for (;;) {
      const { attempt, json } = await call('POST', '/api/v1/orders', c.token, body, { 'idempotency-key': op.key });
      op.attempts.push(attempt);
      if (attempt.status === 201 || attempt.status === 200) {
        const id = String(json.id);
        op.ids.add(id);
        op.orderId ??= id;
        break;
      }
      if (!retryable(attempt)) {
        op.refused = attempt.status;
        return;
      }
      if (Date.now() > this.retryUntil) return;
      await Bun.sleep(backoff * (0.5 + Math.random()));
      backoff = Math.min(backoff * 2, 2_000);
    }
    // Read it back; cancel every fifth, soon after (before or after it moved on: both are fine answers).
    this.reads.push((await call('GET', `/api/v1/orders/${op.orderId}`, c.token)).attempt);
    if (n % 5 === 0) {
      await Bun.sleep(Math.random() * 300);
      const { attempt } = await call('POST', `/api/v1/orders/${op.orderId}/cancel`, c.token, {});
      op.cancel = { ...attempt, wanted: true };
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  /** Requests whose answer arrived in [from, to), for a fault's window. */
  window(from: number, to: number): Attempt[] {
    const all = [...this.ops.flatMap((o) => o.attempts), ...this.reads];
    return all.filter((a) => a.at >= from && a.at < to);
  }
}

export { Feed, type FeedUpdate } from '../clients/feed';
