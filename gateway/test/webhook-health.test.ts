/**
 * An endpoint's health in the webhook API (#18), on the real PostgreSQL: the figures over its newest
 * 100 messages match the messages and attempts written here, the breaker's pause is shown while it
 * lasts, and only the owner (or an admin) sees any of it.
 */
import { describe, expect, test } from 'bun:test';
import { suiteGateway } from './support';

const gw = suiteGateway();
// Never called (no dispatcher in this suite): only its address must pass the SSRF guard.
const receiverUrl = 'http://127.0.0.1:9/hooks';

async function endpoint(token: string): Promise<string> {
  const r = await gw.call('POST', '/api/v1/webhooks', { token, body: { url: receiverUrl, eventTypes: ['order.shipped'] } });
  expect(r.status).toBe(201);
  return r.json.id as string;
}

/** `count` messages in `status`, created `ageSeconds` ago (one second apart, the first the newest). */
async function messages(endpointId: string, status: string, count: number, ageSeconds = 0): Promise<string[]> {
  const rows = await gw.sql<{ id: string }[]>`
    INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, payload, status, created_at)
    SELECT gen_random_uuid(), ${endpointId}, gen_random_uuid(), 'order.shipped', '{}'::jsonb, ${status},
      now() - (${ageSeconds} + i) * interval '1 second'
    FROM generate_series(0, ${count - 1}) AS i
    RETURNING id`;
  return rows.map((r) => r.id);
}

async function attempt(messageId: string, n: number, startedAt: Date, statusCode: number | null, outcome: string) {
  await gw.sql`
    INSERT INTO webhook_attempts (message_id, attempt, started_at, duration_ms, status_code, error, outcome)
    VALUES (${messageId}, ${n}, ${startedAt}, 12, ${statusCode}, ${statusCode === null ? 'timeout' : null}, ${outcome})`;
}

const health = (view: Record<string, unknown>) => view.health as Record<string, unknown>;

describe('endpoint health', () => {
  test('a new endpoint has no figures yet, in the 201 and in reads', async () => {
    const u = await gw.user();
    const created = await gw.call('POST', '/api/v1/webhooks', {
      token: u.accessToken,
      body: { url: receiverUrl, eventTypes: ['order.paid'] },
    });
    const empty = {
      recentMessages: 0,
      succeeded: 0,
      failed: 0,
      pending: 0,
      successRate: null,
      lastAttemptAt: null,
      lastStatusCode: null,
      lastOutcome: null,
    };
    expect(health(created.json)).toEqual(empty);
    expect(created.json.blockedUntil).toBeNull();
    expect(health((await gw.call('GET', `/api/v1/webhooks/${created.json.id}`, { token: u.accessToken })).json)).toEqual(empty);
  });

  test('counts the messages by status and reports the newest attempt, in the list and the read', async () => {
    const u = await gw.user();
    const id = await endpoint(u.accessToken);
    const [ok1, ok2] = await messages(id, 'succeeded', 3, 100);
    const [bad] = await messages(id, 'failed', 1, 50);
    const [waiting] = await messages(id, 'pending', 2);
    const t0 = Date.now() - 60_000;
    await attempt(ok1 as string, 1, new Date(t0), 200, 'succeeded');
    await attempt(ok2 as string, 1, new Date(t0 + 1_000), 204, 'succeeded');
    await attempt(bad as string, 1, new Date(t0 + 2_000), null, 'failed');
    // The newest attempt (by insertion) is the pending message's failed retry.
    await attempt(waiting as string, 1, new Date(t0 + 3_000), 502, 'failed');
    await attempt(waiting as string, 2, new Date(t0 + 4_000), 500, 'failed');
    const expected = {
      recentMessages: 6,
      succeeded: 3,
      failed: 1,
      pending: 2,
      successRate: 0.75,
      lastAttemptAt: new Date(t0 + 4_000).toISOString(),
      lastStatusCode: 500,
      lastOutcome: 'failed',
    };
    const read = await gw.call('GET', `/api/v1/webhooks/${id}`, { token: u.accessToken });
    expect(health(read.json)).toEqual(expected);
    const list = await gw.call('GET', '/api/v1/webhooks', { token: u.accessToken });
    const listed = (list.json.items as Record<string, unknown>[]).find((e) => e.id === id);
    expect(health(listed ?? {})).toEqual(expected);
    // Changes answer with the endpoint as it now is, health included.
    const paused = await gw.call('POST', `/api/v1/webhooks/${id}/pause`, { token: u.accessToken });
    expect(paused.json.status).toBe('paused');
    expect(health(paused.json)).toEqual(expected);
    const patched = await gw.call('PATCH', `/api/v1/webhooks/${id}`, { token: u.accessToken, body: { description: 'ERP' } });
    expect(health(patched.json)).toEqual(expected);
  });

  test('only the newest 100 messages count', async () => {
    const u = await gw.user();
    const id = await endpoint(u.accessToken);
    const old = await messages(id, 'failed', 5, 1_000);
    await attempt(old[0] as string, 8, new Date(), 500, 'failed');
    await messages(id, 'succeeded', 100);
    const read = await gw.call('GET', `/api/v1/webhooks/${id}`, { token: u.accessToken });
    expect(health(read.json)).toEqual({
      recentMessages: 100,
      succeeded: 100,
      failed: 0,
      pending: 0,
      successRate: 1,
      lastAttemptAt: null,
      lastStatusCode: null,
      lastOutcome: null,
    });
  });

  test('each endpoint of a page gets its own figures', async () => {
    const u = await gw.user();
    const a = await endpoint(u.accessToken);
    const b = await endpoint(u.accessToken);
    await messages(a, 'succeeded', 4);
    await messages(b, 'failed', 2);
    await messages(b, 'succeeded', 2, 10);
    const list = await gw.call('GET', '/api/v1/webhooks?limit=1', { token: u.accessToken });
    expect(list.json.items).toHaveLength(1);
    const next = await gw.call('GET', `/api/v1/webhooks?limit=1&cursor=${list.json.nextCursor}`, { token: u.accessToken });
    const byId = new Map([...(list.json.items as never[]), ...(next.json.items as never[])].map((e: Record<string, unknown>) => [e.id, e]));
    expect(health(byId.get(a) ?? {})).toMatchObject({ recentMessages: 4, succeeded: 4, successRate: 1 });
    expect(health(byId.get(b) ?? {})).toMatchObject({ recentMessages: 4, succeeded: 2, failed: 2, successRate: 0.5 });
  });

  test('the breaker’s pause is shown while it lasts', async () => {
    const u = await gw.user();
    const id = await endpoint(u.accessToken);
    const until = new Date(Date.now() + 60_000);
    await gw.sql`UPDATE webhook_endpoints SET blocked_until = ${until}, consecutive_failures = 5, failing_since = now() WHERE id = ${id}`;
    const read = await gw.call('GET', `/api/v1/webhooks/${id}`, { token: u.accessToken });
    expect(read.json).toMatchObject({ blockedUntil: until.toISOString(), consecutiveFailures: 5, status: 'active' });
    await gw.sql`UPDATE webhook_endpoints SET blocked_until = now() - interval '1 second' WHERE id = ${id}`;
    expect((await gw.call('GET', `/api/v1/webhooks/${id}`, { token: u.accessToken })).json.blockedUntil).toBeNull();
    // Resuming resets the breaker.
    await gw.sql`UPDATE webhook_endpoints SET blocked_until = ${until} WHERE id = ${id}`;
    const resumed = await gw.call('POST', `/api/v1/webhooks/${id}/resume`, { token: u.accessToken });
    expect(resumed.json).toMatchObject({ blockedUntil: null, consecutiveFailures: 0, failingSince: null });
  });

  test('owner only: another customer sees neither the endpoint nor its health; an admin does', async () => {
    const owner = await gw.user();
    const other = await gw.user();
    const admin = await gw.user('admin');
    const id = await endpoint(owner.accessToken);
    await messages(id, 'succeeded', 1);
    expect((await gw.call('GET', `/api/v1/webhooks/${id}`, { token: other.accessToken })).status).toBe(404);
    const theirs = await gw.call('GET', '/api/v1/webhooks', { token: other.accessToken });
    expect(theirs.json.items).toEqual([]);
    const asAdmin = await gw.call('GET', `/api/v1/webhooks/${id}`, { token: admin.accessToken });
    expect(health(asAdmin.json)).toMatchObject({ recentMessages: 1, succeeded: 1 });
  });
});
