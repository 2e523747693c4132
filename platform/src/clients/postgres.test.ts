/**
 * The queueing bound: behind a proxy that accepts connections and drops them (the database behind it is
 * down), a query fails with 57014 in about the bound instead of waiting for as long as reconnecting takes.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createPostgres, isDatabaseUnavailable } from './postgres';

let server: Server;
let port = 0;

before(async () => {
  // Accepts every connection and closes it at once, as a TCP proxy does when its upstream is gone.
  server = createServer((socket) => {
    // Read what the client sends (unread data would make the close a reset) and close cleanly.
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

after(() => server.close());

describe('createPostgres with queueTimeoutMs', () => {
  it('fails a query that cannot get a connection after the bound, as database-unavailable', async () => {
    const sql = createPostgres({ url: `postgres://u:p@127.0.0.1:${port}/db`, applicationName: 'test', queueTimeoutMs: 300 });
    const started = performance.now();
    const err = await sql`SELECT 1`.then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = performance.now() - started;
    assert.ok(err, 'the query must fail');
    assert.equal((err as { code?: string }).code, '57014');
    assert.equal(isDatabaseUnavailable(err), true);
    assert.ok(took >= 250 && took < 3_000, `failed after ${Math.round(took)} ms`);
    await sql.end({ timeout: 0 });
  });

  it('then fails at once while the database is unreachable, letting one query at a time find out', async () => {
    const sql = createPostgres({ url: `postgres://u:p@127.0.0.1:${port}/db`, applicationName: 'test', queueTimeoutMs: 300 });
    await sql`SELECT 1`.catch(() => undefined);
    const timed = (p: Promise<unknown>) => {
      const t0 = performance.now();
      return p.then(
        () => ({ code: 'none', ms: performance.now() - t0 }),
        (e: { code?: string }) => ({ code: e.code, ms: performance.now() - t0 }),
      );
    };
    const [probe, refused] = await Promise.all([timed(sql`SELECT 2`), timed(sql`SELECT 3`)]);
    assert.equal(probe.code, '57014');
    assert.equal(refused.code, 'DATABASE_CIRCUIT_OPEN');
    assert.ok(refused.ms < 100, `refused after ${Math.round(refused.ms)} ms`);
    assert.equal(isDatabaseUnavailable({ code: refused.code }), true);
    // A transaction is not even started while the circuit is open.
    const t0 = performance.now();
    const begun = await sql
      .begin(async (tx) => tx`SELECT 4`)
      .then(
        () => 'ran',
        (e: { code?: string }) => e.code,
      );
    assert.equal(begun, 'DATABASE_CIRCUIT_OPEN');
    assert.ok(performance.now() - t0 < 100);
    await sql.end({ timeout: 0 });
  });

  it('without the bound the same query is still waiting after a second (what the bound is for)', async () => {
    const sql = createPostgres({ url: `postgres://u:p@127.0.0.1:${port}/db`, applicationName: 'test' });
    const query = sql`SELECT 1`;
    const outcome = await Promise.race([
      query.then(
        () => 'answered',
        () => 'failed',
      ),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 1_000)),
    ]);
    assert.equal(outcome, 'still waiting');
    query.cancel();
    await sql.end({ timeout: 0 });
  });
});
