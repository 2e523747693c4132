import { describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { type Gateway, gateway, suiteGateway } from './support';

const strict = {
  TRUSTED_PROXIES: '127.0.0.1',
  RATE_LIMIT_IP: '3/1m',
  RATE_LIMIT_TIER_FREE: '4/1m',
  RATE_LIMIT_TIER_STANDARD: '100/1m',
  RATE_LIMIT_TIER_PREMIUM: '6/1m',
  RATE_LIMIT_ENDPOINT_POST_API_V1_ORDERS: '3/1m',
  RATE_LIMIT_ENDPOINT_GET_API_V1_ORDERS: '100/1m',
  RATE_LIMIT_LOGIN_ACCOUNT: '2/1m',
  RATE_LIMIT_LOGIN_IP: '3/1m',
  PASSWORD_MEMORY_KIB: '1024',
  PASSWORD_TIME_COST: '1',
};

const gw = suiteGateway(strict);
const untrusting = suiteGateway({ ...strict, TRUSTED_PROXIES: '' });

/** A fresh documentation-range IPv6 address per call: no collision with earlier runs' windows. */
const ip = () => `2001:db8::${randomUUID().slice(0, 4)}:${randomUUID().slice(0, 4)}`;
const from = (addr: string) => ({ 'x-forwarded-for': `${addr}, 127.0.0.1` });

/** dev tokens are anonymous requests too: each from its own address, so the IP limit stays out of the way. */
async function user(tier: 'free' | 'standard' | 'premium' | 'enterprise' = 'standard') {
  const r = await gw.call('POST', '/api/v1/auth/dev-token', {
    body: { email: `rl-${randomUUID()}@example.com`, tier },
    headers: from(ip()),
  });
  expect(r.status).toBe(200);
  return r.json as { accessToken: string; userId: string };
}

describe('rate limits in the gateway', () => {
  test('limited routes carry X-RateLimit-* and the IETF RateLimit fields for the binding limit', async () => {
    const u = await user('standard');
    const r = await gw.call('GET', '/api/v1/orders', { token: u.accessToken });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-ratelimit-limit')).toBe('100');
    expect(r.headers.get('x-ratelimit-remaining')).toBe('99');
    expect(Number(r.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
    expect(r.headers.get('ratelimit-policy')).toBe('"tier:standard";q=100;w=60, "GET /api/v1/orders";q=100;w=60');
    expect(r.headers.get('ratelimit')).toMatch(/^"(tier:standard|GET \/api\/v1\/orders)";r=99;t=\d+$/);
    const notFound = await gw.call('GET', `/api/v1/orders/${randomUUID()}`, { token: u.accessToken });
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get('x-ratelimit-remaining')).toBe('98');
    expect(notFound.headers.get('x-request-id')).toBeTruthy();
  });

  test('an endpoint limit refuses with 429, Retry-After and a problem naming it, and writes nothing', async () => {
    const u = await user('standard');
    const body = { items: [{ sku: 'MUG-BLUE', quantity: 1 }] };
    for (let i = 0; i < 3; i++) expect((await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body })).status).toBe(201);
    const r = await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body });
    expect(r.status).toBe(429);
    expect(r.headers.get('content-type')).toStartWith('application/problem+json');
    expect(r.json).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', limit: 'POST /api/v1/orders', status: 429 });
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(r.headers.get('x-ratelimit-remaining')).toBe('0');
    const [n] = await gw.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM orders WHERE user_id = ${u.userId}`;
    expect(n?.n).toBe(3);
    // Other endpoints still answer: the refusal did not spend the tier budget.
    expect((await gw.call('GET', '/api/v1/orders', { token: u.accessToken })).status).toBe(200);
  });

  test('tiers: each tier is held to its own limit on every route, other users are not affected, enterprise is unlimited', async () => {
    const free = await user('free');
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await gw.call('GET', '/api/v1/products', { token: free.accessToken })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    const refused = await gw.call('GET', `/api/v1/orders/${randomUUID()}`, { token: free.accessToken });
    expect([refused.status, refused.json.limit]).toEqual([429, 'tier:free']);
    const other = await user('free');
    expect((await gw.call('GET', '/api/v1/products', { token: other.accessToken })).status).toBe(200);
    const premium = await user('premium');
    const premiumStatuses = [];
    for (let i = 0; i < 7; i++) premiumStatuses.push((await gw.call('GET', '/api/v1/products', { token: premium.accessToken })).status);
    expect(premiumStatuses).toEqual([200, 200, 200, 200, 200, 200, 429]);
    const big = await user('enterprise');
    for (let i = 0; i < 8; i++) expect((await gw.call('GET', '/api/v1/products', { token: big.accessToken })).status).toBe(200);
    const last = await gw.call('GET', '/api/v1/products', { token: big.accessToken });
    expect(last.headers.get('x-ratelimit-limit')).toBeNull();
  });

  test('anonymous requests are limited per client IP, from X-Forwarded-For only behind a trusted proxy', async () => {
    const a = ip();
    const b = ip();
    const register = (g: Gateway, addr: string) =>
      g.call('POST', '/api/v1/auth/register', {
        body: { email: `rl-${randomUUID()}@example.com`, password: 'long enough password' },
        headers: from(addr),
      });
    for (let i = 0; i < 3; i++) expect((await register(gw, a)).status).toBe(201);
    const fourth = await register(gw, a);
    expect([fourth.status, fourth.json.limit]).toEqual([429, 'ip']);
    expect((await register(gw, b)).status).toBe(201);
    // Without a trusted proxy the header is the client's say-so: every request counts for the socket's address.
    const spoofed = await Promise.all([ip(), ip(), ip(), ip()].map((addr) => register(untrusting, addr)));
    expect(spoofed.map((r) => r.status).filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
  });

  test('login attempts are limited per account and per IP', async () => {
    const email = `rl-${randomUUID()}@example.com`;
    const login = (addr: string, who = email) =>
      gw.call('POST', '/api/v1/auth/login', { body: { email: who, password: 'whatever it is' }, headers: from(addr) });
    expect((await login(ip())).status).toBe(401);
    expect((await login(ip())).status).toBe(401);
    const third = await login(ip());
    expect([third.status, third.json.limit]).toEqual([429, 'login:account']);
    const addr = ip();
    for (let i = 0; i < 3; i++) expect((await login(addr, `rl-${randomUUID()}@example.com`)).status).toBe(401);
    const fourth = await login(addr, `rl-${randomUUID()}@example.com`);
    expect([fourth.status, fourth.json.limit]).toEqual([429, 'login:ip']);
  });
});

describe('when the limiter cannot reach Redis', () => {
  test('login fails closed (503), general endpoints carry on with the in-memory limiter', async () => {
    const cut = await gateway({ ...strict, REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_TIMEOUT_MS: '50' });
    try {
      const login = await cut.call('POST', '/api/v1/auth/login', {
        body: { email: 'x@example.com', password: 'whatever it is' },
        headers: from(ip()),
      });
      expect([login.status, login.json.code, login.headers.get('retry-after')]).toEqual([503, 'RATE_LIMITER_UNAVAILABLE', '1']);
      const addr = ip();
      const register = () =>
        cut.call('POST', '/api/v1/auth/register', {
          body: { email: `rl-${randomUUID()}@example.com`, password: 'long enough password' },
          headers: from(addr),
        });
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await register()).status);
      expect(statuses).toEqual([201, 201, 201, 429]);
      const metrics = await (await cut.app.handle(new Request('http://localhost/metrics'))).text();
      expect(metrics).toMatch(/orders_ratelimit_degraded_total\{[^}]*mode="memory"[^}]*\} [1-9]/);
      expect(metrics).toMatch(/orders_ratelimit_degraded_total\{[^}]*mode="fail_closed"[^}]*\} [1-9]/);
    } finally {
      await cut.close();
    }
  });
});
