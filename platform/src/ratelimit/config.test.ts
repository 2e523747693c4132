/** The rate-limit policy: design defaults, a per-stage file, environment overrides, and refusals at start-up. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../config/env';
import { loadRateLimitPolicy, parseRule } from './config';

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
