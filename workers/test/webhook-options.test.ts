/**
 * The dispatcher and an endpoint's options (#18) on the real PostgreSQL: its custom headers go out with
 * every delivery while the signature still verifies (standardwebhooks) and reserved names stay the
 * dispatcher's; and its rate limit holds across two senders sharing the queue (as two dispatcher
 * processes would): every message arrives, never more than the limit within any second.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createLogger, createMetrics, createPostgres, DestinationPolicy, generateSecret, SecretBox, uuidv7 } from '@orders/platform';
import { eventually } from '@orders/platform/testing';
import { sealCustomHeaders } from '@orders/platform/webhooks/custom-headers';
// The reference implementation, pinned by the platform package (hoisted in the workspace).
import { Webhook } from 'standardwebhooks';
import { WebhookSender } from '../src/stages/webhooks/sender';

const sql = createPostgres({ url: process.env.DATABASE_URL as string, max: 6, applicationName: 'webhook-options-test' });
const box = new SecretBox(readFileSync(process.env.WEBHOOK_SECRET_KEY_FILE as string, 'utf8'));

interface Arrival {
  at: number;
  headers: IncomingHttpHeaders;
  body: string;
}
const arrivals = new Map<string, Arrival[]>();
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const path = req.url ?? '';
    arrivals.set(path, [...(arrivals.get(path) ?? []), { at: Date.now(), headers: req.headers, body: Buffer.concat(chunks).toString() }]);
    res.writeHead(200).end('ok');
  });
});

function sender(pollMs: number) {
  return new WebhookSender({
    sql,
    box,
    policy: new DestinationPolicy(['127.0.0.1'], false),
    logger: createLogger({ service: 'options-test', level: 'warn' }),
    metrics: createMetrics('options_test', { defaultMetrics: false }),
    timeScale: 0.0001,
    timeoutMs: 2_000,
    concurrency: 16,
    maxInFlightPerEndpoint: 4,
    pollMs,
    breakerFailures: 5,
    breakerCooldownMs: 1_000,
    disableAfterFailures: 50,
    disableAfterMs: 1_000,
  });
}

describe('webhook endpoint options in the dispatcher', () => {
  let port = 0;
  let userId = '';
  const endpoints: string[] = [];
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    userId = uuidv7();
    await sql`INSERT INTO users (id, email) VALUES (${userId}, ${`options-${randomUUID()}@example.com`})`;
  });
  after(async () => {
    if (endpoints.length > 0) await sql`DELETE FROM webhook_endpoints WHERE id IN ${sql(endpoints)}`;
    await sql`DELETE FROM users WHERE id = ${userId}`;
    await sql.end({ timeout: 5 });
    server.close();
  });

  /** An endpoint as the API would store it (or, for the reserved names, as only a hand-edited row could). */
  async function endpoint(path: string, options: { headers?: Record<string, string>; rateLimitPerSecond?: number }, messages: number) {
    const id = uuidv7();
    const secret = generateSecret();
    await sql`INSERT INTO webhook_endpoints (id, user_id, url, event_types, secret_sealed, headers_sealed, rate_limit_per_second)
              VALUES (${id}, ${userId}, ${`http://127.0.0.1:${port}${path}`}, ${['webhook.test']}, ${box.seal(secret)},
                      ${sealCustomHeaders(box, options.headers ?? {})}, ${options.rateLimitPerSecond ?? null})`;
    endpoints.push(id);
    const rows = Array.from({ length: messages }, (_, i) => ({ id: randomUUID(), event_id: randomUUID(), n: i }));
    await sql`INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, payload)
              SELECT r.id, ${id}, r.event_id, 'webhook.test', jsonb_build_object('type', 'webhook.test', 'data', jsonb_build_object('n', r.n))
              FROM jsonb_to_recordset(${sql.json(rows as never)}::jsonb) AS r(id uuid, event_id uuid, n int)`;
    return { id, secret };
  }

  const succeeded = async (id: string) =>
    (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM webhook_messages WHERE endpoint_id = ${id} AND status = 'succeeded'`)[0]?.n;

  it('sends the custom headers with every delivery; the signature still verifies and reserved names stay its own', async () => {
    const headers = {
      'x-api-key': 'k-31f0',
      authorization: 'Bearer receiver-token',
      // Refused by the API; a row holding them anyway must not override the dispatcher's own.
      'webhook-signature': 'v1,forged',
      'User-Agent': 'not-the-dispatcher',
      'x-bad': 'line\r\nx-injected: 1',
    };
    const { id, secret } = await endpoint('/custom', { headers }, 2);
    const s = sender(50);
    await s.start();
    try {
      await eventually(async () => (await succeeded(id)) === 2, { what: 'both deliveries succeeded', timeoutMs: 15_000, everyMs: 50 });
    } finally {
      await s.stop();
    }
    const got = arrivals.get('/custom') ?? [];
    assert.equal(got.length, 2);
    for (const a of got) {
      assert.equal(a.headers['x-api-key'], 'k-31f0');
      assert.equal(a.headers.authorization, 'Bearer receiver-token');
      assert.match(String(a.headers['user-agent']), /^order-platform-webhooks\//);
      assert.equal(a.headers['x-bad'], undefined);
      assert.equal(a.headers['x-injected'], undefined);
      assert.doesNotMatch(String(a.headers['webhook-signature']), /forged/);
      const verified = new Webhook(secret).verify(a.body, {
        'webhook-id': String(a.headers['webhook-id']),
        'webhook-timestamp': String(a.headers['webhook-timestamp']),
        'webhook-signature': String(a.headers['webhook-signature']),
      });
      assert.equal((verified as { type: string }).type, 'webhook.test');
    }
  });

  it('keeps a rate-limited endpoint within its limit across two senders, sending everything', async () => {
    const LIMIT = 2;
    const MESSAGES = 6;
    const { id } = await endpoint('/limited', { rateLimitPerSecond: LIMIT }, MESSAGES);
    // A long poll: the next second's messages go out because the claim says when room returns, not by polling.
    const [a, b] = [sender(5_000), sender(5_000)];
    const started = Date.now();
    await Promise.all([a.start(), b.start()]);
    try {
      await eventually(async () => (await succeeded(id)) === MESSAGES, {
        what: `all ${MESSAGES} rate-limited deliveries succeeded`,
        timeoutMs: 20_000,
        everyMs: 100,
      });
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    const times = (arrivals.get('/limited') ?? []).map((x) => x.at).sort((x, y) => x - y);
    assert.equal(times.length, MESSAGES, 'every message arrived, once');
    const SLACK_MS = 100;
    // No more than LIMIT within any 1-second span: the (LIMIT+1)-th after any arrival is a second later.
    for (let i = 0; i + LIMIT < times.length; i++) {
      const gap = (times[i + LIMIT] as number) - (times[i] as number);
      assert.ok(gap >= 1_000 - SLACK_MS, `arrivals ${i} and ${i + LIMIT} only ${gap} ms apart`);
    }
    const spread = (times[MESSAGES - 1] as number) - (times[0] as number);
    assert.ok(spread >= 2_000 - SLACK_MS, `spread over ${spread} ms`);
    // Well before the 5 s poll: the claim's hint brought each next second's messages.
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  });
});
