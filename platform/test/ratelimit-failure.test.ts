/**
 * The rate limiter's failure policy, against a private redis-server the test stops, kills and restarts:
 * the in-memory fallback within the timeout, fail-closed checks refused, recovery without a restart.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RateLimitUnavailable } from '../src/index';
import { eventually } from '../src/testing';
import { limiter, limits } from './ratelimit-support';

describe('when Redis fails', () => {
  const port = 16_400 + Math.floor(Math.random() * 500);
  let server: ChildProcess | undefined;
  const startServer = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await eventually(
      async () => {
        const probe = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        probe.on('error', () => {});
        const ok = await probe.connect().then(
          () => probe.ping(),
          () => null,
        );
        probe.disconnect();
        return ok === 'PONG';
      },
      { what: 'the private redis-server to answer PING', everyMs: 100 },
    );
  };
  after(() => {
    server?.kill('SIGKILL');
  });

  it('falls back to the in-memory limiter within the timeout, refuses fail-closed checks, and recovers by itself', async () => {
    await startServer();
    const redis = new Redis({ port, maxRetriesPerRequest: 1, commandTimeout: 1_000, retryStrategy: (n) => Math.min(50 * n, 200) });
    redis.on('error', () => {});
    const rl = limiter(redis, 'log', { timeoutMs: 100, retryAfterMs: 300 });
    const checks = limits(['tier:f', 2, 60_000]);
    const subject = `u:${randomUUID()}`;
    assert.equal((await rl.check(subject, checks)).degraded, false);

    server?.kill('SIGSTOP'); // a stuck Redis: connected but silent
    const t0 = Date.now();
    const stuck = await rl.check(subject, checks);
    assert.ok(Date.now() - t0 < 400, 'a stuck Redis never stalls a request past the timeout');
    assert.equal(stuck.degraded, true);
    assert.equal(stuck.allowed, true);
    const mem = await rl.check(subject, checks);
    assert.equal(mem.degraded, true);
    assert.equal((await rl.check(subject, checks)).allowed, false, 'the fallback still limits');
    await assert.rejects(rl.check(`acct:${randomUUID()}`, checks, { failClosed: true }), RateLimitUnavailable);

    const stopped = server;
    stopped?.kill('SIGCONT');
    stopped?.kill('SIGKILL'); // and now gone entirely
    await eventually(() => stopped?.exitCode !== null || stopped?.signalCode !== null, { what: 'the private redis-server to exit' });
    await assert.rejects(rl.check(`acct:${randomUUID()}`, checks, { failClosed: true }), RateLimitUnavailable);

    await startServer();
    await eventually(async () => !(await rl.check(`u:${randomUUID()}`, checks)).degraded, {
      what: 'the limiter to decide on Redis again, without a restart',
      everyMs: 100,
    });
    await redis.quit();
  });
});
