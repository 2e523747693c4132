/**
 * Two webhook senders sharing one queue in the real PostgreSQL (as two dispatcher processes would): every
 * message reaches the receiver exactly once, and no endpoint ever has more attempts in flight than its bound.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createLogger, createMetrics, createPostgres, DestinationPolicy, generateSecret, SecretBox, uuidv7 } from '@orders/platform';
import { eventually } from '@orders/platform/testing';
import { WebhookSender } from '../src/stages/webhooks/sender';

const sql = createPostgres({ url: process.env.DATABASE_URL as string, max: 6, applicationName: 'webhook-sender-test' });
const box = new SecretBox(readFileSync(process.env.WEBHOOK_SECRET_KEY_FILE as string, 'utf8'));
const MESSAGES = 300;
const PER_ENDPOINT = 3;

const seen = new Map<string, number>();
let inFlight = new Map<string, number>();
let worst = 0;
const server = createServer((req, res) => {
  const ep = req.url ?? '';
  const id = String(req.headers['webhook-id']);
  seen.set(id, (seen.get(id) ?? 0) + 1);
  inFlight.set(ep, (inFlight.get(ep) ?? 0) + 1);
  worst = Math.max(worst, inFlight.get(ep) ?? 0);
  req.resume();
  // Slow enough that attempts overlap and the bound matters.
  setTimeout(() => {
    inFlight.set(ep, (inFlight.get(ep) ?? 1) - 1);
    res.writeHead(200).end('ok');
  }, 15);
});

function sender() {
  return new WebhookSender({
    sql,
    box,
    policy: new DestinationPolicy(['127.0.0.1'], false),
    logger: createLogger({ service: 'sender-test', level: 'warn' }),
    metrics: createMetrics('sender_test', { defaultMetrics: false }),
    timeScale: 0.0001,
    timeoutMs: 2_000,
    concurrency: 16,
    maxInFlightPerEndpoint: PER_ENDPOINT,
    pollMs: 50,
    breakerFailures: 5,
    breakerCooldownMs: 1_000,
    disableAfterFailures: 50,
    disableAfterMs: 1_000,
  });
}

describe('webhook senders sharing the queue', () => {
  let port = 0;
  const endpoints: string[] = [];
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    const [user] = await sql<{ id: string }[]>`
      INSERT INTO users (id, email) VALUES (${uuidv7()}, ${`sender-${randomUUID()}@example.com`}) RETURNING id`;
    for (let i = 0; i < 4; i++) {
      const id = uuidv7();
      await sql`INSERT INTO webhook_endpoints (id, user_id, url, event_types, secret_sealed)
                VALUES (${id}, ${user?.id as string}, ${`http://127.0.0.1:${port}/ep${i}`}, ${['webhook.test']}, ${box.seal(generateSecret())})`;
      endpoints.push(id);
    }
    const rows = Array.from({ length: MESSAGES }, (_, i) => ({ id: randomUUID(), endpoint_id: endpoints[i % 4], event_id: randomUUID() }));
    await sql`INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, payload)
              SELECT r.id, r.endpoint_id, r.event_id, 'webhook.test', '{"type":"webhook.test"}'::jsonb
              FROM jsonb_to_recordset(${sql.json(rows as never)}::jsonb) AS r(id uuid, endpoint_id uuid, event_id uuid)`;
    inFlight = new Map();
  });
  after(async () => {
    await sql`DELETE FROM webhook_endpoints WHERE id IN ${sql(endpoints)}`;
    await sql.end({ timeout: 5 });
    server.close();
  });

  it('delivers each message once and keeps each endpoint within its bound', async () => {
    const [a, b] = [sender(), sender()];
    await Promise.all([a.start(), b.start()]);
    try {
      await eventually(
        async () => {
          const [row] = await sql<{ n: number }[]>`
            SELECT count(*)::int AS n FROM webhook_messages WHERE endpoint_id IN ${sql(endpoints)} AND status = 'succeeded'`;
          return row?.n === MESSAGES;
        },
        { what: `all ${MESSAGES} messages recorded as succeeded`, timeoutMs: 30_000, everyMs: 100 },
      );
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    assert.equal(seen.size, MESSAGES, 'every message reached the receiver');
    assert.deepEqual([...new Set(seen.values())], [1], 'none twice');
    assert.ok(worst <= PER_ENDPOINT, `at most ${PER_ENDPOINT} in flight per endpoint, saw ${worst}`);
    assert.ok(worst >= 2, 'attempts did overlap');
    const [attempts] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM webhook_attempts a JOIN webhook_messages m ON m.id = a.message_id WHERE m.endpoint_id IN ${sql(endpoints)}`;
    assert.equal(attempts?.n, MESSAGES);
  });
});
