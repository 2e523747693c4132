/**
 * The users CLI (ops/tools/users.ts) against the real PostgreSQL, seen through the gateway: promote makes
 * a registered customer an administrator from the next sign-in (the sessions it had are over), demote
 * undoes it and the admin's access token stops working at once (the revoked-sessions feed), each audited; an unknown email fails (1), a bad command is a usage error (2).
 */
import { describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { eventually } from '@orders/platform/testing';
import { suiteGateway } from './support';

const gw = suiteGateway({ PASSWORD_MEMORY_KIB: '1024', PASSWORD_TIME_COST: '1' });
const password = 'correct horse battery staple';
const CLI = join(import.meta.dir, '..', '..', 'ops', 'tools', 'users.ts');

async function users(...args: string[]) {
  const proc = Bun.spawn([process.execPath, CLI, ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: gw.env.DATABASE_URL,
      REDIS_URL: gw.env.REDIS_URL,
      NAMESPACE: gw.env.NAMESPACE,
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

async function login(email: string) {
  const r = await gw.call('POST', '/api/v1/auth/login', { body: { email, password } });
  expect(r.status).toBe(200);
  const claims = JSON.parse(Buffer.from(String(r.json.accessToken).split('.')[1] ?? '', 'base64url').toString('utf8'));
  return { accessToken: String(r.json.accessToken), refreshToken: String(r.json.refreshToken), role: claims.role as string };
}

const auditsFor = (userId: string) =>
  gw.sql<{ actor_id: string; action: string; detail: unknown }[]>`
    SELECT actor_id, action, detail FROM admin_audit WHERE target = ${userId} ORDER BY id`;

describe('npm run users', () => {
  test('promote: admin from the next sign-in, earlier sessions ended; demote: customer again; both audited', async () => {
    const email = `cli-${randomUUID()}@example.com`;
    const registered = await gw.call('POST', '/api/v1/auth/register', { body: { email, password } });
    expect(registered.status).toBe(201);
    const userId = String(registered.json.id);
    const before = await login(email);
    expect(before.role).toBe('customer');
    expect((await gw.call('GET', '/api/v1/admin/pipeline', { token: before.accessToken })).status).toBe(403);

    const promoted = await users('promote', email.toUpperCase());
    expect(promoted.stderr).toBe('');
    expect(promoted.code).toBe(0);
    expect(promoted.stdout).toContain(`${email} (${userId}) is now admin`);
    expect(promoted.stdout).toContain('1 session(s) ended');
    const stale = await gw.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: before.refreshToken } });
    expect(stale.status).toBe(401);
    expect(stale.json.code).toBe('AUTH_REFRESH_REVOKED');
    const admin = await login(email);
    expect(admin.role).toBe('admin');
    expect((await gw.call('GET', '/api/v1/admin/pipeline', { token: admin.accessToken })).status).toBe(200);

    const again = await users('promote', email);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already admin: nothing changed');

    const demoted = await users('demote', email);
    expect(demoted.code).toBe(0);
    // The demoted admin's access token stops working now (the revoked-sessions feed), not in 15 minutes.
    await eventually(async () => (await gw.call('GET', '/api/v1/admin/pipeline', { token: admin.accessToken })).status === 401, {
      what: 'the demoted admin’s access token refused',
      timeoutMs: 5_000,
      everyMs: 50,
    });
    expect((await login(email)).role).toBe('customer');
    const cli = '00000000-0000-0000-0000-000000000000';
    expect([...(await auditsFor(userId))]).toEqual([
      { actor_id: cli, action: 'user.promoted', detail: { via: 'cli' } },
      { actor_id: cli, action: 'user.demoted', detail: { via: 'cli' } },
    ]);
  });

  test('an unknown email fails (exit 1); a bad command or address is a usage error (exit 2)', async () => {
    const unknown = await users('promote', `nobody-${randomUUID()}@example.com`);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no account with email');
    for (const args of [
      [],
      ['elevate', 'a@example.com'],
      ['promote'],
      ['demote', 'not-an-email'],
      ['promote', 'a@example.com', 'b@example.com'],
    ]) {
      const r = await users(...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('usage: npm run users');
    }
    const unconfigured = Bun.spawn([process.execPath, CLI, 'promote', 'a@example.com'], {
      env: { PATH: process.env.PATH ?? '' },
      stderr: 'pipe',
    });
    expect(await unconfigured.exited).toBe(2);
    expect(await new Response(unconfigured.stderr).text()).toContain('DATABASE_URL is required');
  });
});
