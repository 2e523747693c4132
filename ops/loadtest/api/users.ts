/**
 * The run's own users, made through the target's API: `/api/v1/auth/dev-token` where the target offers it
 * (dev and test stages only; one cheap call per user, tier chosen), otherwise register + login like any
 * customer (argon2id makes each registration tens of milliseconds, and logins are limited per address: the
 * pool is then small, made a few at a time, and capped). The report says which way was used. Admin-only
 * set-up takes ORDERS_ADMIN_TOKEN, or a dev admin token on a dev/test target.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { type Api, ApiError, inParallel } from './client';

export interface User {
  email: string;
  userId: string;
  token: string;
  tier: string;
  /** Kept for the abuse scenario's bystander login. */
  password?: string;
}

export type UserMethod = 'dev-token' | 'register+login';

export interface Pool {
  users: User[];
  method: UserMethod;
  notes: string[];
}

/** Logins are limited per address (50 per 15 min by default): a register+login pool stays well below. */
export const MAX_REGISTERED_USERS = 40;
export const MAX_DEV_TOKEN_USERS = 2_000;

export function runEmail(runId: string, label: string, i: number): string {
  return `loadtest-${runId}-${label}-${i}@loadtest.example`;
}

/** Whether the target mints dev tokens (it answers 400 to an empty body then, 404 without the route). */
export async function offersDevTokens(api: Api): Promise<boolean> {
  const a = await api.call('POST', '/api/v1/auth/dev-token', { body: {} });
  return a.status !== 404 && a.status !== 405;
}

async function devUser(api: Api, email: string, tier: string, role = 'customer'): Promise<User> {
  const t = await api.expect<{ accessToken: string; userId: string }>(200, 'POST', '/api/v1/auth/dev-token', {
    body: { email, tier, role },
  });
  return { email, userId: t.userId, token: t.accessToken, tier };
}

export async function registeredUser(api: Api, email: string): Promise<User> {
  const password = `lt-${randomBytes(18).toString('base64url')}`;
  const u = await api.expect<{ id: string; tier: string }>(201, 'POST', '/api/v1/auth/register', { body: { email, password } });
  const t = await api.expect<{ accessToken: string }>(200, 'POST', '/api/v1/auth/login', { body: { email, password } });
  return { email, userId: u.id, token: t.accessToken, tier: u.tier, password };
}

/**
 * `count` new users labelled `label` (at least one, or an ApiError). When the target stops making them
 * (429 on its per-address limit) the pool is what was made by then, with a note.
 */
export async function createPool(
  api: Api,
  opts: { count: number; runId: string; label: string; tier: string; devTokens: boolean },
): Promise<Pool> {
  const notes: string[] = [];
  const method: UserMethod = opts.devTokens ? 'dev-token' : 'register+login';
  const cap = opts.devTokens ? MAX_DEV_TOKEN_USERS : MAX_REGISTERED_USERS;
  let count = Math.max(1, Math.ceil(opts.count));
  if (count > cap) {
    notes.push(`${count} users wanted, ${cap} made (the most ${method} makes in one run)`);
    count = cap;
  }
  let refused = 0;
  const made = await inParallel(
    Array.from({ length: count }, (_, i) => runEmail(opts.runId, opts.label, i)),
    opts.devTokens ? 8 : 2,
    async (email) => {
      if (refused > 0) return null;
      try {
        return opts.devTokens ? await devUser(api, email, opts.tier) : await registeredUser(api, email);
      } catch (err) {
        if (err instanceof ApiError && err.status === 429) {
          refused++;
          return null;
        }
        throw err;
      }
    },
  );
  const users = made.filter((u): u is User => u !== null);
  if (users.length === 0) throw new ApiError(`${method} of the run's users`, 429, 'RATE_LIMIT_EXCEEDED');
  if (refused > 0) notes.push(`the target refused more users (429 on its per-address limit): ${users.length} of ${count} made`);
  return { users, method, notes };
}

export interface Admin {
  token: string;
  source: 'ORDERS_ADMIN_TOKEN' | 'dev-token';
}

/** An administrator's token for set-up, or null when neither ORDERS_ADMIN_TOKEN nor dev tokens give one. */
export async function adminToken(api: Api, envToken: string, devTokens: boolean, runId: string): Promise<Admin | null> {
  if (envToken !== '') {
    await api.expect(200, 'GET', '/api/v1/admin/orders?limit=1', { token: envToken });
    return { token: envToken, source: 'ORDERS_ADMIN_TOKEN' };
  }
  if (!devTokens) return null;
  const u = await devUser(api, `loadtest-${runId}-admin-${randomUUID().slice(0, 8)}@loadtest.example`, 'enterprise', 'admin');
  return { token: u.token, source: 'dev-token' };
}
