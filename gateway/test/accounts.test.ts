import { describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { eventually } from '@orders/platform/testing';
import { SignJWT } from 'jose';
import { gateway, suiteGateway } from './support';

// Cheap hashing and a short lockout threshold keep the suite fast; the logic is the same.
const gw = suiteGateway({ PASSWORD_MEMORY_KIB: '1024', PASSWORD_TIME_COST: '1', LOGIN_MAX_FAILURES: '3', LOGIN_LOCK_MS: '60000' });

const password = 'correct horse battery staple';
const newEmail = () => `acct-${randomUUID()}@example.com`;

async function register(email = newEmail()) {
  const r = await gw.call('POST', '/api/v1/auth/register', { body: { email, password } });
  expect(r.status).toBe(201);
  return { email, id: String(r.json.id) };
}

async function login(email: string, pw = password) {
  return gw.call('POST', '/api/v1/auth/login', { body: { email, password: pw } });
}

describe('accounts', () => {
  test('register creates a customer on the free tier; the same email twice is 409; weak or extra input is 400', async () => {
    const email = newEmail();
    const r = await gw.call('POST', '/api/v1/auth/register', { body: { email: email.toUpperCase(), password } });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ email, role: 'customer', tier: 'free' });
    expect(JSON.stringify(r.json)).not.toContain(password);
    const [row] = await gw.sql<{ password_hash: string }[]>`SELECT password_hash FROM users WHERE email = ${email}`;
    expect(row?.password_hash).toStartWith('$argon2id$');
    expect((await gw.call('POST', '/api/v1/auth/register', { body: { email, password } })).json.code).toBe('AUTH_EMAIL_TAKEN');
    expect((await gw.call('POST', '/api/v1/auth/register', { body: { email: newEmail(), password: 'short' } })).status).toBe(400);
    const admin = await gw.call('POST', '/api/v1/auth/register', { body: { email: newEmail(), password, role: 'admin' } });
    expect([admin.status, admin.json.code]).toEqual([400, 'REQUEST_VALIDATION_FAILED']);
  });

  test('a password needs 12 characters, not 12 UTF-16 units (11 emoji are refused)', async () => {
    const r = await gw.call('POST', '/api/v1/auth/register', { body: { email: newEmail(), password: '😀'.repeat(11) } });
    expect([r.status, r.json.errors?.[0]?.field]).toEqual([400, '/password']);
    expect((await gw.call('POST', '/api/v1/auth/register', { body: { email: newEmail(), password: '😀'.repeat(12) } })).status).toBe(201);
  });

  test('login returns a 15-minute access token that works and an opaque refresh token', async () => {
    const { email, id } = await register();
    const r = await login(email);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
    expect(String(r.json.refreshToken)).toMatch(/^rt_[A-Za-z0-9_-]{43}$/);
    const claims = JSON.parse(Buffer.from(String(r.json.accessToken).split('.')[1] as string, 'base64url').toString());
    expect(claims).toMatchObject({ sub: id, role: 'customer', tier: 'free', iss: 'order-platform', aud: 'order-platform-api' });
    expect(claims.exp - claims.iat).toBe(900);
    const orders = await gw.call('GET', '/api/v1/orders', { token: String(r.json.accessToken) });
    expect(orders.status).toBe(200);
  });

  test('a wrong password and an unknown email fail the same way', async () => {
    const { email } = await register();
    const wrong = await login(email, 'not the password at all');
    const unknown = await login(newEmail());
    for (const r of [wrong, unknown]) expect([r.status, r.json.code]).toEqual([401, 'AUTH_INVALID_CREDENTIALS']);
  });

  test('repeated failures lock the account (423 with Retry-After), even for the right password, until the lock ends', async () => {
    const { email } = await register();
    for (let i = 0; i < 2; i++) expect((await login(email, 'wrong password!!')).json.code).toBe('AUTH_INVALID_CREDENTIALS');
    const third = await login(email, 'wrong password!!');
    expect([third.status, third.json.code]).toEqual([423, 'AUTH_ACCOUNT_LOCKED']);
    const right = await login(email);
    expect(right.status).toBe(423);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(50);
    await gw.sql`UPDATE users SET locked_until = now() - interval '1 second' WHERE email = ${email}`;
    expect((await login(email)).status).toBe(200);
    const [u] = await gw.sql<{ failed_logins: number }[]>`SELECT failed_logins FROM users WHERE email = ${email}`;
    expect(u?.failed_logins).toBe(0);
  });

  test('refresh rotates; reusing a rotated token revokes the whole session', async () => {
    const { email } = await register();
    const first = (await login(email)).json;
    const second = await gw.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: first.refreshToken } });
    expect(second.status).toBe(200);
    expect(second.json.refreshToken).not.toBe(first.refreshToken);
    const third = await gw.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: second.json.refreshToken } });
    expect(third.status).toBe(200);
    // The first token is presented again: it leaked. Everything descended from that login dies.
    const reuse = await gw.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: first.refreshToken } });
    expect([reuse.status, reuse.json.code]).toEqual([401, 'AUTH_REFRESH_REUSED']);
    const latest = await gw.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: third.json.refreshToken } });
    expect([latest.status, latest.json.code]).toEqual([401, 'AUTH_REFRESH_REVOKED']);
    // Another login is another family, untouched.
    expect((await gw.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: (await login(email)).json.refreshToken } })).status).toBe(
      200,
    );
  });

  test('logout revokes the session; unknown and expired refresh tokens are refused', async () => {
    const { email } = await register();
    const pair = (await login(email)).json;
    const out = await gw.call('POST', '/api/v1/auth/logout', { body: { refreshToken: pair.refreshToken } });
    expect(out.status).toBe(204);
    expect((await gw.call('POST', '/api/v1/auth/logout', { body: { refreshToken: pair.refreshToken } })).status).toBe(204);
    expect((await gw.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: pair.refreshToken } })).json.code).toBe(
      'AUTH_REFRESH_REVOKED',
    );
    const unknown = await gw.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: `rt_${'A'.repeat(43)}` } });
    expect(unknown.json.code).toBe('AUTH_REFRESH_INVALID');
    const other = (await login(email)).json;
    await gw.sql`UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = (SELECT id FROM users WHERE email = ${email}) AND revoked_at IS NULL`;
    expect((await gw.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: other.refreshToken } })).json.code).toBe(
      'AUTH_REFRESH_EXPIRED',
    );
  });

  test('logout ends the access token at once, on this gateway and on another one', async () => {
    const other = await gateway({ PASSWORD_MEMORY_KIB: '1024', PASSWORD_TIME_COST: '1' });
    try {
      const { email } = await register();
      const pair = (await login(email)).json;
      const token = String(pair.accessToken);
      const second = (await login(email)).json;
      expect((await gw.call('GET', '/api/v1/orders', { token })).status).toBe(200);
      expect((await other.call('GET', '/api/v1/orders', { token })).status).toBe(200);
      expect((await gw.call('POST', '/api/v1/auth/logout', { body: { refreshToken: pair.refreshToken } })).status).toBe(204);
      const here = await gw.call('GET', '/api/v1/orders', { token });
      expect([here.status, here.json.code]).toEqual([401, 'AUTH_TOKEN_REVOKED']);
      // The other instance learns it from Redis pub/sub: wait for it, within a bound.
      const there = await eventually(
        async () => {
          const r = await other.call('GET', '/api/v1/orders', { token });
          return r.status !== 200 && r;
        },
        { what: 'the other gateway to refuse the ended session' },
      );
      expect([there.status, there.json.code]).toEqual([401, 'AUTH_TOKEN_REVOKED']);
      // Another session of the same user goes on.
      expect((await gw.call('GET', '/api/v1/orders', { token: String(second.accessToken) })).status).toBe(200);
      // A gateway started later loads what was ended before it.
      const late = await gateway({ PASSWORD_MEMORY_KIB: '1024', PASSWORD_TIME_COST: '1' });
      try {
        const r = await eventually(
          async () => {
            const answer = await late.call('GET', '/api/v1/orders', { token });
            return answer.status !== 200 && answer;
          },
          { what: 'the gateway started later to refuse the ended session' },
        );
        expect(r.status).toBe(401);
      } finally {
        await late.close();
      }
    } finally {
      await other.close();
    }
  });

  test('a reused refresh token ends the session’s access tokens too', async () => {
    const { email } = await register();
    const first = (await login(email)).json;
    const rotated = (await gw.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: first.refreshToken } })).json;
    const token = String(rotated.accessToken);
    expect((await gw.call('GET', '/api/v1/orders', { token })).status).toBe(200);
    const reuse = await gw.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: first.refreshToken } });
    expect(reuse.json.code).toBe('AUTH_REFRESH_REUSED');
    const after = await gw.call('GET', '/api/v1/orders', { token });
    expect([after.status, after.json.code]).toEqual([401, 'AUTH_TOKEN_REVOKED']);
    expect((await gw.call('GET', '/api/v1/orders', { token: String(first.accessToken) })).status).toBe(401);
  });

  test('algorithm confusion: an HS256 token keyed with the public key is refused', async () => {
    const { id } = await register();
    const publicJwks = readFileSync(process.env.JWT_PUBLIC_KEYS_FILE as string, 'utf8');
    const kid = JSON.parse(publicJwks).keys[0].kid;
    const forged = await new SignJWT({ role: 'admin', tier: 'enterprise' })
      .setProtectedHeader({ alg: 'HS256', kid })
      .setSubject(id)
      .setIssuer('order-platform')
      .setAudience('order-platform-api')
      .setIssuedAt()
      .setExpirationTime('5m')
      .setJti(randomUUID())
      .sign(new TextEncoder().encode(publicJwks));
    const r = await gw.call('GET', '/api/v1/admin/orders', { token: forged });
    expect([r.status, r.json.code]).toEqual([401, 'AUTH_TOKEN_INVALID']);
  });
});
