import { describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { ConfigError } from '@orders/platform';
import { eventually } from '@orders/platform/testing';
import { loadEnv } from '../src/env';
import { gateway, suiteGateway } from './support';

const gw = suiteGateway();

const body = { items: [{ sku: 'MUG-BLUE', quantity: 1 }] };

describe('authentication', () => {
  test('a missing token is 401 with a Bearer challenge, checked before the body is validated', async () => {
    const r = await gw.call('POST', '/api/v1/orders', { body: { not: 'even valid' } });
    expect(r.status).toBe(401);
    expect(r.json.code).toBe('AUTH_TOKEN_MISSING');
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
  });

  test('an expired token is 401 AUTH_TOKEN_EXPIRED', async () => {
    const u = await gw.user();
    const { token } = await gw.deps.sign({ userId: u.userId, role: 'customer', tier: 'free' }, Math.floor(Date.now() / 1000) - 3600);
    const r = await gw.call('POST', '/api/v1/orders', { token, body });
    expect([r.status, r.json.code]).toEqual([401, 'AUTH_TOKEN_EXPIRED']);
  });

  test('a malformed or tampered token is 401 AUTH_TOKEN_INVALID', async () => {
    const u = await gw.user();
    for (const header of ['Bearer nope', `Bearer ${u.accessToken}x`, `Basic ${btoa('a:b')}`]) {
      const r = await gw.call('POST', '/api/v1/orders', { headers: { authorization: header }, body });
      expect([r.status, r.json.code]).toEqual([401, 'AUTH_TOKEN_INVALID']);
    }
  });

  test('a valid token for an account that does not exist writes nothing', async () => {
    const { token } = await gw.deps.sign({ userId: randomUUID(), role: 'customer', tier: 'free' });
    const r = await gw.call('POST', '/api/v1/orders', { token, body });
    expect([r.status, r.json.code]).toEqual([401, 'AUTH_UNKNOWN_USER']);
  });

  test('the dev token route does not exist unless DEV_TOKENS is on, and cannot be on in prod', async () => {
    const off = await gateway({ DEV_TOKENS: 'false' });
    try {
      const r = await off.call('POST', '/api/v1/auth/dev-token', { body: { email: 'x@example.com' } });
      expect([r.status, r.json.code]).toEqual([404, 'REQUEST_ROUTE_NOT_FOUND']);
    } finally {
      await off.close();
    }
    expect(() => loadEnv({ ...process.env, DEPLOY_STAGE: 'prod', DEV_TOKENS: 'true' })).toThrow(ConfigError);
  });
});

describe('operations endpoints', () => {
  test('healthz, readyz with every dependency, metrics, and problem+json for unknown routes', async () => {
    expect((await gw.call('GET', '/healthz')).status).toBe(200);
    const ready = await gw.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok', kafka: 'ok' } });
    const metrics = await gw.app.handle(new Request('http://localhost/metrics'));
    expect(await metrics.text()).toContain('orders_http_request_duration_seconds');
    const nowhere = await gw.call('GET', '/api/v1/nowhere');
    expect(nowhere.status).toBe(404);
    expect(nowhere.headers.get('content-type')).toStartWith('application/problem+json');
    expect(nowhere.json.code).toBe('REQUEST_ROUTE_NOT_FOUND');
  });

  test('the in-flight count (what shutdown drains) returns to zero after successes and every kind of error', async () => {
    const u = await gw.user();
    await Promise.all([
      gw.call('GET', '/healthz'),
      gw.call('GET', '/nowhere'),
      gw.call('POST', '/api/v1/orders', { body: {} }),
      gw.call('POST', '/api/v1/orders', { token: u.accessToken, raw: '{', headers: { 'content-type': 'application/json' } }),
      gw.call('POST', '/api/v1/orders', { token: u.accessToken, body: { items: [] } }),
      gw.call('POST', '/api/v1/orders', { token: u.accessToken, body: { items: [{ sku: 'MUG-BLUE', quantity: 1 }] } }),
    ]);
    // after-response hooks run once the response is handed over, a tick after handle() resolves
    await eventually(() => gw.inflight.value === 0, { what: 'the in-flight count back to 0' });
  });

  test('configuration errors are refused at start-up with every problem named', () => {
    const bad = () => loadEnv({ DATABASE_URL: 'mysql://nope', PORT: 'eighty', JWT_PUBLIC_KEYS: '', JWT_SIGNING_KEY: '' });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(/DATABASE_URL must use postgres: or postgresql:/);
    expect(bad).toThrow(/PORT must be an integer \(got "eighty"\)/);
  });

  test('refuses TRUSTED_PROXIES entries that are not addresses or ranges', () => {
    const base = { ...process.env, DEPLOY_STAGE: 'test' };
    expect(() => loadEnv({ ...base, TRUSTED_PROXIES: '10.0.0.0/33' })).toThrow('TRUSTED_PROXIES');
    expect(() => loadEnv({ ...base, TRUSTED_PROXIES: 'nginx' })).toThrow('TRUSTED_PROXIES');
    expect(loadEnv({ ...base, TRUSTED_PROXIES: '10.0.0.0/8,::1' }).TRUSTED_PROXIES).toEqual(['10.0.0.0/8', '::1']);
  });
});
