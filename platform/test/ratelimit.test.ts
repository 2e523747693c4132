/**
 * The rate limiter against real Redis: a single server, a 3-master Cluster (TEST_REDIS_CLUSTER_NODES), and a
 * private server the test stops and restarts to exercise the failure policy.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import pino from 'pino';
import {
  type Algorithm,
  ConfigError,
  type LimitCheck,
  loadRateLimitPolicy,
  parseRule,
  RateLimiter,
  RateLimitUnavailable,
  rateLimitHeaders,
} from '../src/index';
import { createMetrics } from '../src/metrics';

const silent = pino({ level: 'silent' });
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const clusterNodes = (process.env.TEST_REDIS_CLUSTER_NODES ?? '').split(',').filter(Boolean);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function limiter(
  redis: Redis | Cluster,
  algorithm: Algorithm = 'log',
  extra: { timeoutMs?: number; retryAfterMs?: number; metrics?: ReturnType<typeof createMetrics> } = {},
) {
  return new RateLimiter({
    redis,
    algorithm,
    namespace: `t${randomUUID().slice(0, 6)}`,
    timeoutMs: extra.timeoutMs ?? 500,
    retryAfterMs: extra.retryAfterMs ?? 200,
    metrics: extra.metrics ?? createMetrics('rl-test', { defaultMetrics: false }),
    logger: silent,
  });
}

/** A metric's samples, by their label set. */
async function samples(metrics: ReturnType<typeof createMetrics>, name: string) {
  const metric = metrics.registry.getSingleMetric(`orders_${name}`);
  const values = metric ? (await metric.get()).values : [];
  // Histograms name each sample (`…_count`, `…_sum`, `…_bucket`); counters do not.
  return values as { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

const rule = (limit: number, windowMs: number): LimitCheck['rule'] => ({ limit, windowMs });

/** The behaviour every backend must show. */
function suite(name: string, connect: () => Redis | Cluster, clients: () => (Redis | Cluster)[]) {
  describe(name, () => {
    const redis = connect();
    const extra = clients();
    after(async () => {
      await Promise.all([redis, ...extra].map((c) => c.quit()));
    });

    it('admits exactly the limit within a window and refuses the next, with headers for the binding limit', async () => {
      const rl = limiter(redis);
      const checks = [{ name: 'tier:free', rule: rule(5, 60_000) }];
      for (let i = 1; i <= 5; i++) {
        const d = await rl.check(`u:${name}-a`, checks);
        assert.equal(d.allowed, true);
        assert.equal(d.binding?.remaining, 5 - i);
      }
      const refused = await rl.check(`u:${name}-a`, checks);
      assert.equal(refused.allowed, false);
      const h = rateLimitHeaders(refused);
      assert.equal(h['x-ratelimit-limit'], '5');
      assert.equal(h['x-ratelimit-remaining'], '0');
      assert.ok(Number(h['retry-after']) >= 59 && Number(h['retry-after']) <= 60, h['retry-after']);
      assert.equal(h['ratelimit-policy'], '"tier:free";q=5;w=60');
      assert.match(h.ratelimit ?? '', /^"tier:free";r=0;t=(59|60)$/);
    });

    it('checks every limit at once: the most restrictive binds, and a refusal consumes none of them', async () => {
      const rl = limiter(redis);
      const subject = `u:${randomUUID()}`;
      const checks = [
        { name: 'tier:standard', rule: rule(10, 60_000) },
        { name: 'POST /api/v1/orders', rule: rule(3, 60_000) },
      ];
      for (let i = 0; i < 3; i++) assert.equal((await rl.check(subject, checks)).allowed, true);
      const d = await rl.check(subject, checks);
      assert.equal(d.allowed, false);
      assert.equal(d.binding?.name, 'POST /api/v1/orders');
      // The refused request did not count against the tier: 7 tier requests remain for other endpoints.
      const tierOnly = await rl.check(subject, [checks[0] as LimitCheck]);
      assert.equal(tierOnly.binding?.remaining, 6);
    });

    it('frees a slot exactly when the oldest request leaves the sliding window', async () => {
      const rl = limiter(redis);
      const subject = `u:${randomUUID()}`;
      const checks = [{ name: 'tier:test', rule: rule(3, 1_500) }];
      const first = await rl.check(subject, checks);
      await sleep(500);
      await rl.check(subject, checks);
      await rl.check(subject, checks);
      const refused = await rl.check(subject, checks);
      assert.equal(refused.allowed, false);
      // Reset says when the first admission expires; just before it the window is still full, just after it a slot is free.
      const freesAt = first.at + 1_500;
      const before = freesAt - Date.now() - 150;
      if (before > 0) await sleep(before);
      assert.equal((await rl.check(subject, checks)).allowed, false, 'still full just before the oldest admission expires');
      await sleep(Math.max(0, freesAt - Date.now() + 150));
      const again = await rl.check(subject, checks);
      assert.equal(again.allowed, true, 'one slot free once the oldest admission left the window');
      assert.equal((await rl.check(subject, checks)).allowed, false, 'and only one');
    });

    it('never over-admits a concurrent burst from many connections', async () => {
      const subject = `u:${randomUUID()}`;
      const checks = [{ name: 'tier:burst', rule: rule(50, 60_000) }];
      const namespace = `t${randomUUID().slice(0, 6)}`;
      const limiters = [redis, ...extra].map((c) => {
        const l = limiter(c);
        (l as unknown as { prefix: string }).prefix = `${namespace}:rl`;
        return l;
      });
      const answers = await Promise.all(
        Array.from({ length: 300 }, (_, i) => (limiters[i % limiters.length] as RateLimiter).check(subject, checks)),
      );
      assert.equal(answers.filter((a) => a.allowed).length, 50);
    });

    it('decides the requests of one turn of the event loop together, in the order they came, exactly', async () => {
      const metrics = createMetrics('rl-test', { defaultMetrics: false });
      const rl = limiter(redis, 'log', { metrics });
      const subject = `u:${randomUUID()}`;
      const checks = [
        { name: 'tier:batch', rule: rule(40, 60_000) },
        { name: 'GET /api/v1/orders', rule: rule(1_000, 60_000) },
      ];
      const answers = await Promise.all(Array.from({ length: 200 }, () => rl.check(subject, checks)));
      assert.deepEqual(
        answers.map((a) => a.allowed),
        Array.from({ length: 200 }, (_, i) => i < 40),
        'the first 40 callers admitted, every later one refused',
      );
      assert.deepEqual(
        answers.slice(0, 40).map((a) => a.binding?.remaining),
        Array.from({ length: 40 }, (_, i) => 39 - i),
      );
      const sizes = await samples(metrics, 'ratelimit_batch_size');
      const calls = sizes.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
      // One call per request on a Cluster (pipelined per node); a single Redis takes them in batches.
      if (redis instanceof Cluster) assert.equal(calls, 200);
      else assert.ok(calls >= 2 && calls <= 3, `${calls} script calls for 200 requests`);
    });

    it('answers a key known to be full from memory until its oldest request leaves the window, then asks Redis again', async () => {
      const metrics = createMetrics('rl-test', { defaultMetrics: false });
      const rl = limiter(redis, 'log', { metrics });
      const subject = `u:${randomUUID()}`;
      const checks = [{ name: 'tier:local', rule: rule(2, 1_500) }];
      const first = await rl.check(subject, checks);
      await rl.check(subject, checks);
      const refused = await rl.check(subject, checks);
      assert.equal(refused.allowed, false);
      const local = await rl.check(subject, checks);
      assert.equal(local.allowed, false);
      assert.equal(local.binding?.name, 'tier:local');
      assert.ok((local.binding?.resetMs ?? 0) > 0 && (local.binding?.resetMs ?? 0) <= (refused.binding?.resetMs ?? 0));
      const calls = async () => (await samples(metrics, 'ratelimit_batch_size')).find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
      const before = await calls();
      for (let i = 0; i < 20; i++) assert.equal((await rl.check(subject, checks)).allowed, false);
      assert.equal(await calls(), before, 'no script call for a key known to be full');
      const decisions = await samples(metrics, 'ratelimit_decisions_total');
      assert.equal(decisions.find((v) => v.labels.outcome === 'limited_local')?.value, 21);
      // Free again when the first admission leaves the window, and Redis decides from then on.
      await sleep(Math.max(0, first.at + 1_500 - Date.now() + 100));
      assert.equal((await rl.check(subject, checks)).allowed, true);
      assert.equal(await calls(), before + 1);
    });

    it('reports the real reset of the binding limit when two limits are equally used up', async () => {
      const rl = limiter(redis);
      const subject = `u:${randomUUID()}`;
      // Same limit, very different windows: both have 0 left after two requests.
      const checks = [
        { name: 'short', rule: rule(2, 1_000) },
        { name: 'long', rule: rule(2, 3_600_000) },
      ];
      await rl.check(subject, checks);
      await rl.check(subject, checks);
      const refused = await rl.check(subject, checks);
      assert.equal(refused.allowed, false);
      assert.equal(refused.binding?.name, 'short');
      assert.ok((refused.binding?.resetMs ?? Infinity) <= 1_000, `reset ${refused.binding?.resetMs} ms, not a placeholder window`);
    });

    it('keeps all of one subject’s keys in one hash slot', () => {
      const rl = limiter(redis);
      const keys = ['tier:free', 'POST /api/v1/orders', 'GET /api/v1/orders'].map((n) => rl.key('u:123', { name: n, rule: rule(1, 1000) }));
      const tags = new Set(keys.map((k) => /\{([^}]+)\}/.exec(k)?.[1]));
      assert.deepEqual([...tags], ['u:123']);
    });

    it('the weighted two-window counter admits the limit in a fresh window and refuses beyond it', async () => {
      const rl = limiter(redis, 'window');
      const subject = `u:${randomUUID()}`;
      const checks = [{ name: 'tier:w', rule: rule(4, 60_000) }];
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push((await rl.check(subject, checks)).allowed);
      assert.deepEqual(answers, [true, true, true, true, false, false]);
    });
  });
}

suite(
  'single Redis',
  () => new Redis(url),
  () => Array.from({ length: 4 }, () => new Redis(url)),
);

suite(
  'Redis Cluster (3 masters)',
  () => new Cluster(clusterNodes.map((n) => ({ host: n.split(':')[0], port: Number(n.split(':')[1]) }))),
  () => Array.from({ length: 4 }, () => new Cluster(clusterNodes.map((n) => ({ host: n.split(':')[0], port: Number(n.split(':')[1]) })))),
);

describe('when Redis fails', () => {
  const port = 16_400 + Math.floor(Math.random() * 500);
  let server: ChildProcess | undefined;
  const startServer = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    for (let i = 0; i < 50; i++) {
      const probe = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      const ok = await probe.connect().then(
        () => probe.ping(),
        () => null,
      );
      probe.disconnect();
      if (ok === 'PONG') return;
      await sleep(100);
    }
    throw new Error('private redis-server did not start');
  };
  after(() => {
    server?.kill('SIGKILL');
  });

  it('falls back to the in-memory limiter within the timeout, refuses fail-closed checks, and recovers by itself', async () => {
    await startServer();
    const redis = new Redis({ port, maxRetriesPerRequest: 1, commandTimeout: 1_000, retryStrategy: (n) => Math.min(50 * n, 200) });
    redis.on('error', () => {});
    const rl = limiter(redis, 'log', { timeoutMs: 100, retryAfterMs: 300 });
    const checks = [{ name: 'tier:f', rule: rule(2, 60_000) }];
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

    server?.kill('SIGCONT');
    server?.kill('SIGKILL'); // and now gone entirely
    await sleep(100);
    await assert.rejects(rl.check(`acct:${randomUUID()}`, checks, { failClosed: true }), RateLimitUnavailable);

    await startServer();
    await sleep(800);
    let back = await rl.check(`u:${randomUUID()}`, checks);
    for (let i = 0; i < 20 && back.degraded; i++) {
      await sleep(100);
      back = await rl.check(`u:${randomUUID()}`, checks);
    }
    assert.equal(back.degraded, false, 'recovered without a restart');
    await redis.quit();
  });
});

describe('policy configuration', () => {
  it('applies the design defaults, a per-stage file and environment overrides', () => {
    const dir = mkdtempSync(join(tmpdir(), 'limits-'));
    const file = join(dir, 'staging.json');
    writeFileSync(
      file,
      JSON.stringify({
        algorithm: 'window',
        tiers: { standard: { limit: 150, windowSeconds: 60 }, free: '30/1m' },
        endpoints: { 'POST /api/v1/webhooks': 'unlimited', 'GET /api/v1/products': '40/10s' },
        websocket: { connectionsPerUser: 3 },
      }),
    );
    const p = loadRateLimitPolicy({
      RATE_LIMITS_FILE: file,
      RATE_LIMIT_TIER_FREE: '60/1m',
      RATE_LIMIT_ENDPOINT_POST_API_V1_ORDERS: '5/10s',
      RATE_LIMIT_TIER_PREMIUM: 'unlimited',
    });
    // The environment wins over the file, the file over the defaults.
    assert.equal(p.algorithm, 'window');
    assert.deepEqual(p.tiers.free, { limit: 60, windowMs: 60_000 });
    assert.deepEqual(p.tiers.standard, { limit: 150, windowMs: 60_000 });
    assert.deepEqual(p.endpoints['GET /api/v1/products'], { limit: 40, windowMs: 10_000 });
    assert.equal(p.endpoints['POST /api/v1/webhooks'], undefined);
    assert.equal(p.websocket.connectionsPerUser, 3);
    assert.equal(p.tiers.premium, null);
    assert.equal(p.tiers.enterprise, null);
    assert.deepEqual(p.endpoints['POST /api/v1/orders'], { limit: 5, windowMs: 10_000 });
    assert.deepEqual(p.ip, { limit: 200, windowMs: 60_000 });
    assert.deepEqual(loadRateLimitPolicy({}).endpoints['POST /api/v1/webhooks'], { limit: 10, windowMs: 3_600_000 });
    assert.equal(loadRateLimitPolicy({}).websocket.connectionsPerUser, 5);
    assert.deepEqual(parseRule('10/1h'), { limit: 10, windowMs: 3_600_000 });
  });

  it('refuses bad values at start-up, naming each', () => {
    assert.throws(
      () =>
        loadRateLimitPolicy({
          RATE_LIMIT_TIER_FREE: 'fifty',
          RATE_LIMIT_IP: 'unlimited',
          RATE_LIMIT_ENDPOINT_GET_NOWHERE: '1/1s',
          RATE_LIMIT_ALGORITHM: 'leaky',
          RATE_LIMIT_WS_CONNECTIONS_PER_USER: '0',
          RATE_LIMITS_FILE: '/nonexistent/limits.json',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const text = err.message;
        for (const name of [
          'RATE_LIMIT_TIER_FREE',
          'RATE_LIMIT_IP',
          'RATE_LIMIT_ENDPOINT_GET_NOWHERE',
          'RATE_LIMIT_ALGORITHM',
          'RATE_LIMIT_WS_CONNECTIONS_PER_USER',
          'RATE_LIMITS_FILE',
        ]) {
          assert.ok(text.includes(name), `${name} named in: ${text}`);
        }
        return true;
      },
    );
    assert.throws(() => parseRule('10/0s'), /between 1 s and 24 h/);
    // A file's rule keeps the same bounds as an environment variable's.
    const file = join(mkdtempSync(join(tmpdir(), 'limits-')), 'bad.json');
    writeFileSync(file, JSON.stringify({ tiers: { free: { limit: 1, windowSeconds: 999_999 } } }));
    assert.throws(() => loadRateLimitPolicy({ RATE_LIMITS_FILE: file }), /tiers\.free: .*between 1 s and 24 h/);
  });
});
