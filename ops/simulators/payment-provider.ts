/**
 * A simulated payment provider, run as its own local HTTP service (127.0.0.1:8070 by default) so the
 * payment stage talks to it exactly as it would to a real one: over HTTP, with an Idempotency-Key per
 * charge and refund, with latency and failures.
 *
 * Failures, random (rates from the environment) or chosen by the payment token for tests:
 *   pm_decline…  the card is declined (402)             pm_flaky…  the first attempt per key fails (503)
 *   pm_slow…     the first attempt per key hangs longer than any sane client timeout
 * The same Idempotency-Key always gets the same completed answer: a retried charge is never taken twice.
 * A request whose key is still being worked on gets 409 `idempotency_key_in_use` (as real providers do):
 * two racing retries must not both charge.
 *
 * Like real providers it forgets idempotency keys, and here charges too, after a while: PAYMENT_RETENTION_MS
 * (24 h; the soak run scales it down), so a long run holds a bounded memory.
 *
 * With PAYMENT_PROVIDER_STATE_FILE it keeps its record on disk like a real provider: each completed
 * answer is appended (one line, written before the answer is sent, together with the charge it created or
 * refunded) and read back at start-up, so a provider killed mid-run forgets no charge and no key. The
 * fault-injection suite kills it; without the file a restart would forget the keys, and a retried charge
 * would be taken twice, which is not what real providers do.
 *
 *   HOST (127.0.0.1), PAYMENT_PROVIDER_PORT (8070), PAYMENT_LATENCY_MS (20), PAYMENT_JITTER_MS (10),
 *   PAYMENT_DECLINE_RATE (0), PAYMENT_ERROR_RATE (0), PAYMENT_TIMEOUT_RATE (0), PAYMENT_RETENTION_MS (86400000),
 *   PAYMENT_PROVIDER_STATE_FILE (none: memory only)
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { int, num, optionalStr, parseEnv, port as portField, str } from '@orders/platform/config/env';

/** Its whole configuration, validated at start (a bad rate or port stops it with every problem named). */
const {
  HOST: host,
  PAYMENT_PROVIDER_PORT: port,
  PAYMENT_LATENCY_MS: latency,
  PAYMENT_JITTER_MS: jitter,
  PAYMENT_DECLINE_RATE: declineRate,
  PAYMENT_ERROR_RATE: errorRate,
  PAYMENT_TIMEOUT_RATE: timeoutRate,
  PAYMENT_RETENTION_MS: retentionMs,
  PAYMENT_PROVIDER_STATE_FILE: stateFile,
} = parseEnv(
  {
    /** 0.0.0.0 in containers. */
    HOST: str({ default: '127.0.0.1' }),
    PAYMENT_PROVIDER_PORT: portField({ default: 8070 }),
    PAYMENT_LATENCY_MS: num({ default: 20, min: 0 }),
    PAYMENT_JITTER_MS: num({ default: 10, min: 0 }),
    /** Shares of charges (0 to 1) declined, answered 502, left hanging. */
    PAYMENT_DECLINE_RATE: num({ default: 0, min: 0, max: 1 }),
    PAYMENT_ERROR_RATE: num({ default: 0, min: 0, max: 1 }),
    PAYMENT_TIMEOUT_RATE: num({ default: 0, min: 0, max: 1 }),
    PAYMENT_RETENTION_MS: int({ default: 86_400_000, min: 1 }),
    PAYMENT_PROVIDER_STATE_FILE: optionalStr(),
  },
  process.env,
);

interface Answer {
  status: number;
  body: unknown;
  request: string;
  /** When it was stored (for retention). */
  at?: number;
  /** The charge this answer created or changed: recorded with it, in the same line of the state file. */
  charge?: Charge;
}

interface Charge {
  id: string;
  amount: number;
  currency: string;
  reference: string;
  refunded: number;
  createdAt: string;
}

const answers = new Map<string, Answer>();
const inFlight = new Set<string>();
const attempts = new Map<string, { n: number; at: number }>();
const charges = new Map<string, Charge & { at: number }>();

/** One completed answer (and the charge it made or changed) as one appended line: all of it or none. */
function persist(id: string, answer: Answer): void {
  if (stateFile) appendFileSync(stateFile, `${JSON.stringify({ id, answer })}\n`);
}

/** Reads the record back after a restart; a torn last line (killed mid-write) was never answered. */
function restore(): void {
  if (!stateFile || !existsSync(stateFile)) return;
  for (const line of readFileSync(stateFile, 'utf8').split('\n')) {
    if (!line) continue;
    let entry: { id: string; answer: Answer };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    answers.set(entry.id, entry.answer);
    const c = entry.answer.charge;
    if (c) charges.set(c.id, { ...c, at: entry.answer.at ?? Date.now() });
  }
}
restore();

/** Forgets what is older than the retention; each map is in insertion order, so from its head. */
function sweep(): void {
  const before = Date.now() - retentionMs;
  for (const map of [answers, attempts, charges] as Map<string, { at?: number }>[])
    for (const [k, v] of map) {
      if ((v.at ?? 0) > before) break;
      map.delete(k);
    }
}
setInterval(sweep, Math.min(60_000, Math.max(1_000, retentionMs / 4))).unref();

const json = (status: number, body: unknown) => Response.json(body, { status });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function idempotent(req: Request, scope: string, run: (body: Record<string, unknown>, attempt: number) => Promise<Answer | 'hang'>) {
  const key = req.headers.get('idempotency-key');
  if (!key || key.length > 255) return json(400, { error: { code: 'idempotency_key_required' } });
  const text = await req.text();
  const id = `${scope}:${key}`;
  const done = answers.get(id);
  if (done) {
    if (done.request !== text) return json(422, { error: { code: 'idempotency_key_reused' } });
    return json(done.status, done.body);
  }
  if (inFlight.has(id)) return json(409, { error: { code: 'idempotency_key_in_use' } });
  inFlight.add(id);
  try {
    const attempt = (attempts.get(id)?.n ?? 0) + 1;
    attempts.set(id, { n: attempt, at: attempts.get(id)?.at ?? Date.now() });
    await sleep(Math.max(0, latency + (Math.random() * 2 - 1) * jitter));
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return json(400, { error: { code: 'invalid_json' } });
    }
    const answer = await run(body, attempt);
    if (answer === 'hang') {
      await sleep(60_000);
      return json(504, { error: { code: 'timeout' } });
    }
    // Server errors are not remembered: the client is meant to retry them.
    if (answer.status < 500) {
      const stored = { ...answer, request: text, at: Date.now() };
      persist(id, stored);
      answers.set(id, stored);
      if (answer.charge) charges.set(answer.charge.id, { ...answer.charge, at: stored.at });
    }
    return json(answer.status, answer.body);
  } finally {
    inFlight.delete(id);
  }
}

Bun.serve({
  hostname: host,
  port,
  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === '/healthz') return json(200, { status: 'ok' });
    if (req.method === 'POST' && url.pathname === '/v1/charges') {
      return idempotent(req, 'charge', async (b, attempt) => {
        const source = String(b.source ?? '');
        const amount = Number(b.amount);
        if (!Number.isInteger(amount) || amount < 0 || typeof b.currency !== 'string')
          return { status: 400, body: { error: { code: 'invalid_request' } }, request: '' };
        if (source.startsWith('pm_slow') && attempt === 1) return 'hang';
        if (source.startsWith('pm_flaky') && attempt === 1) return { status: 503, body: { error: { code: 'unavailable' } }, request: '' };
        const roll = Math.random();
        if (roll < timeoutRate) return 'hang';
        if (roll < timeoutRate + errorRate) return { status: 502, body: { error: { code: 'upstream_error' } }, request: '' };
        if (source.startsWith('pm_decline') || Math.random() < declineRate) {
          return { status: 402, body: { error: { code: 'card_declined', message: 'The card was declined.' } }, request: '' };
        }
        const charge: Charge = {
          id: `ch_${crypto.randomUUID().replaceAll('-', '')}`,
          amount,
          currency: b.currency,
          reference: String(b.reference ?? ''),
          refunded: 0,
          createdAt: new Date().toISOString(),
        };
        return { status: 201, body: { id: charge.id, status: 'succeeded', amount, currency: charge.currency }, request: '', charge };
      });
    }
    if (req.method === 'POST' && url.pathname === '/v1/refunds') {
      return idempotent(req, 'refund', async (b) => {
        const charge = charges.get(String(b.charge ?? ''));
        if (!charge) return { status: 404, body: { error: { code: 'no_such_charge' } }, request: '' };
        const amount = Number(b.amount ?? charge.amount);
        if (!Number.isInteger(amount) || amount <= 0 || charge.refunded + amount > charge.amount) {
          return { status: 400, body: { error: { code: 'invalid_amount' } }, request: '' };
        }
        const { at: _at, ...current } = charge;
        return {
          status: 201,
          body: { id: `re_${crypto.randomUUID().replaceAll('-', '')}`, status: 'succeeded', amount },
          request: '',
          charge: { ...current, refunded: current.refunded + amount },
        };
      });
    }
    if (req.method === 'GET' && url.pathname === '/v1/charges') {
      const reference = url.searchParams.get('reference');
      const data = [...charges.values()].filter((c) => !reference || c.reference === reference).map(({ at: _at, ...c }) => c);
      return json(200, { data });
    }
    return json(404, { error: { code: 'not_found' } });
  },
});
process.stdout.write(`payment provider simulator on http://127.0.0.1:${port}\n`);
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
