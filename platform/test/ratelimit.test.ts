/**
 * The rate limiter against real Redis, a single server and a 3-master Cluster (TEST_REDIS_CLUSTER_NODES):
 * the behaviour every backend must show. The failure policy: ratelimit-failure.test.ts; the policy
 * configuration: src/ratelimit/config.test.ts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { type LimitCheck, type RateLimiter, rateLimitHeaders } from '../src/index';
import { createMetrics } from '../src/metrics';
import { fill, limiter, limits, newSubject, rule, samples, scriptCalls, sleep } from './ratelimit-support';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const clusterNodes = (process.env.TEST_REDIS_CLUSTER_NODES ?? '').split(',').filter(Boolean);

function suite(name: string, connect: () => Redis | Cluster, clients: () => (Redis | Cluster)[]) {
  describe(name, () => {
    const redis = connect();
    const extra = clients();
    after(async () => {
      await Promise.all([redis, ...extra].map((c) => c.quit()));
    });

    it('admits exactly the limit within a window and refuses the next, with headers for the binding limit', async () => {
      const { admitted, refused } = await fill(limiter(redis), `u:${name}-a`, limits(['tier:free', 5, 60_000]), 5);
      assert.deepEqual(
        admitted.map((d) => d.binding?.remaining),
        [4, 3, 2, 1, 0],
      );
      const h = rateLimitHeaders(refused);
      assert.equal(h['x-ratelimit-limit'], '5');
      assert.equal(h['x-ratelimit-remaining'], '0');
      assert.ok(Number(h['retry-after']) >= 59 && Number(h['retry-after']) <= 60, h['retry-after']);
      assert.equal(h['ratelimit-policy'], '"tier:free";q=5;w=60');
      assert.match(h.ratelimit ?? '', /^"tier:free";r=0;t=(59|60)$/);
    });

    it('checks every limit at once: the most restrictive binds, and a refusal consumes none of them', async () => {
      const rl = limiter(redis);
      const subject = newSubject();
      const checks = limits(['tier:standard', 10, 60_000], ['POST /api/v1/orders', 3, 60_000]);
      const { refused } = await fill(rl, subject, checks, 3);
      assert.equal(refused.binding?.name, 'POST /api/v1/orders');
      // The refused request did not count against the tier: 7 tier requests remain for other endpoints.
      const tierOnly = await rl.check(subject, [checks[0] as LimitCheck]);
      assert.equal(tierOnly.binding?.remaining, 6);
    });

    it('frees a slot exactly when the oldest request leaves the sliding window', async () => {
      const rl = limiter(redis);
      const subject = newSubject();
      const checks = limits(['tier:test', 3, 1_500]);
      const first = await rl.check(subject, checks);
      // The sleeps here are the clock under test, not waits for something to happen: the admissions are
      // spread over time, and the window is probed just before and just after its computed end.
      await sleep(500);
      await fill(rl, subject, checks, 2);
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
      const subject = newSubject();
      const checks = limits(['tier:burst', 50, 60_000]);
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
      const subject = newSubject();
      const checks = limits(['tier:batch', 40, 60_000], ['GET /api/v1/orders', 1_000, 60_000]);
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
      const calls = await scriptCalls(metrics);
      // One call per request on a Cluster (pipelined per node); a single Redis takes them in batches.
      if (redis instanceof Cluster) assert.equal(calls, 200);
      else assert.ok(calls >= 2 && calls <= 3, `${calls} script calls for 200 requests`);
    });

    it('answers a key known to be full from memory until its oldest request leaves the window, then asks Redis again', async () => {
      const metrics = createMetrics('rl-test', { defaultMetrics: false });
      const rl = limiter(redis, 'log', { metrics });
      const subject = newSubject();
      const checks = limits(['tier:local', 2, 1_500]);
      const { admitted, refused } = await fill(rl, subject, checks, 2);
      const local = await rl.check(subject, checks);
      assert.equal(local.allowed, false);
      assert.equal(local.binding?.name, 'tier:local');
      assert.ok((local.binding?.resetMs ?? 0) > 0 && (local.binding?.resetMs ?? 0) <= (refused.binding?.resetMs ?? 0));
      const before = await scriptCalls(metrics);
      for (let i = 0; i < 20; i++) assert.equal((await rl.check(subject, checks)).allowed, false);
      assert.equal(await scriptCalls(metrics), before, 'no script call for a key known to be full');
      const decisions = await samples(metrics, 'ratelimit_decisions_total');
      assert.equal(decisions.find((v) => v.labels.outcome === 'limited_local')?.value, 21);
      // Free again when the first admission leaves the window (the clock under test, hence a sleep), and
      // Redis decides from then on.
      await sleep(Math.max(0, (admitted[0]?.at ?? 0) + 1_500 - Date.now() + 100));
      assert.equal((await rl.check(subject, checks)).allowed, true);
      assert.equal(await scriptCalls(metrics), before + 1);
    });

    it('reports the real reset of the binding limit when two limits are equally used up', async () => {
      // Same limit, very different windows: both have 0 left after two requests.
      const { refused } = await fill(limiter(redis), newSubject(), limits(['short', 2, 1_000], ['long', 2, 3_600_000]), 2);
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
      const subject = newSubject();
      const checks = limits(['tier:w', 4, 60_000]);
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push((await rl.check(subject, checks)).allowed);
      assert.deepEqual(answers, [true, true, true, true, false, false]);
    });
  });
}

const clusterClient = () => new Cluster(clusterNodes.map((n) => ({ host: n.split(':')[0], port: Number(n.split(':')[1]) })));

suite(
  'single Redis',
  () => new Redis(url),
  () => Array.from({ length: 4 }, () => new Redis(url)),
);

suite('Redis Cluster (3 masters)', clusterClient, () => Array.from({ length: 4 }, clusterClient));
