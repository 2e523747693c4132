/**
 * The load test's users and their access tokens:
 *   - dev and test targets: minted by the gateway's `POST /api/v1/auth/dev-token` (which exists only where
 *     DEV_TOKENS is on, i.e. DEPLOY_STAGE dev or test), many at once but bounded, 429/5xx retried;
 *     one user per email, so minting the same emails again refreshes the same users' tokens;
 *   - the local stack (loopback gateway and edges, this clone's `.local/secrets`): signed here with the
 *     stack's own JWT signing key, exactly as the gateway signs them (issuer, audience, kid, 15 minutes),
 *     for users that exist only in their tokens: the edge verifies the token and nothing else. The
 *     dev-token route shares the per-address limit of anonymous requests (200 a minute), so the 10,000
 *     users of a 50,000-socket run would take most of an hour through it;
 *   - any other deployment: a file (`tokensFile`) of dedicated load-test users' tokens, one per line,
 *     either the bare JWT or a JSON object `{"token": "…"}` / `{"accessToken": "…"}` (the user is the
 *     token's `sub`). Such tokens cannot be refreshed: the run must end before the first one expires.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ACCESS_TOKEN_TTL_SECONDS, createSigner, parseSigningKey } from '@orders/platform/auth/jwt';
import type { StackConfig } from '../../local/config.mjs';
import { jwtKeyFiles } from '../../local/config.mjs';

export interface UserToken {
  userId: string;
  token: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/** The claims the load test reads from a token (no verification: the edge does that). */
export function tokenClaims(token: string): { sub: string; exp: number } {
  const part = token.split('.')[1];
  if (!part) throw new Error('not a JWT');
  const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { sub?: unknown; exp?: unknown };
  if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') throw new Error('a token without sub or exp');
  return { sub: claims.sub, exp: claims.exp };
}

/** `count` distinct users from a tokens file (the first token of each user; an error when there are fewer). */
export function readTokensFile(path: string, count: number): UserToken[] {
  const seen = new Map<string, UserToken>();
  const lines = readFileSync(path, 'utf8').split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let token = line;
    if (line.startsWith('{')) {
      const o = JSON.parse(line) as { token?: unknown; accessToken?: unknown };
      const t = o.token ?? o.accessToken;
      if (typeof t !== 'string') throw new Error(`${path}:${i + 1}: no "token" or "accessToken"`);
      token = t;
    }
    let claims: { sub: string; exp: number };
    try {
      claims = tokenClaims(token);
    } catch (err) {
      throw new Error(`${path}:${i + 1}: ${(err as Error).message}`);
    }
    if (!seen.has(claims.sub)) seen.set(claims.sub, { userId: claims.sub, token, expiresAt: claims.exp });
    if (seen.size === count) break;
  }
  if (seen.size < count)
    throw new Error(`${path} holds tokens of ${seen.size} distinct users; this run needs ${count} (5 sockets per user at most)`);
  return [...seen.values()];
}

export interface MintOptions {
  gatewayUrl: string;
  /** Users are `<prefix>-<i>@loadtest.example.com`: the same prefix gives the same users. */
  prefix: string;
  count: number;
  /** Requests in flight at most. */
  concurrency: number;
  signal: AbortSignal;
  /** Called as tokens arrive (progress). */
  onProgress?: (done: number) => void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/** One user's token from the dev-token endpoint; 429, 5xx and network errors retried (5 tries). */
async function mintOne(url: string, email: string, signal: AbortSignal): Promise<UserToken> {
  let last = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    if (attempt > 0) await sleep(Math.min(5_000, 200 * 2 ** attempt) * (0.5 + Math.random()), signal);
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, role: 'customer' }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
      });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      last = (err as Error).message;
      continue;
    }
    if (res.status === 200) {
      const body = (await res.json()) as { accessToken: string; userId: string };
      return { userId: body.userId, token: body.accessToken, expiresAt: tokenClaims(body.accessToken).exp };
    }
    last = `${res.status} ${(await res.text()).slice(0, 200)}`;
    if (res.status === 429) {
      const after = Number(res.headers.get('retry-after') ?? 1);
      await sleep(Math.min(10, Math.max(1, after)) * 1000, signal);
      continue;
    }
    if (res.status === 404)
      throw new Error(`${url} answered 404: the dev-token route exists only in dev and test (DEV_TOKENS); use tokensFile`);
    if (res.status < 500) throw new Error(`${url} answered ${last}`);
  }
  throw new Error(`dev-token for ${email} failed 5 times: ${last}`);
}

/** `count` users' tokens, in user order (index i is always the same user for the same prefix). */
export async function mintTokens(o: MintOptions): Promise<UserToken[]> {
  const url = `${o.gatewayUrl.replace(/\/$/, '')}/api/v1/auth/dev-token`;
  const out: UserToken[] = new Array(o.count);
  let next = 0;
  let done = 0;
  // One failure stops the other lanes too.
  const stop = new AbortController();
  const signal = AbortSignal.any([o.signal, stop.signal]);
  await Promise.all(
    Array.from({ length: Math.min(o.concurrency, o.count) }, async () => {
      try {
        while (next < o.count && !signal.aborted) {
          const i = next++;
          out[i] = await mintOne(url, `${o.prefix}-${i}@loadtest.example.com`, signal);
          done += 1;
          if (done % 1000 === 0) o.onProgress?.(done);
        }
      } catch (err) {
        stop.abort(err);
        throw err;
      }
    }),
  );
  return out;
}

/** Whether this clone's stack signing key is there (a local target can then be given signed tokens). */
export function localSigningKey(cfg: StackConfig): string | undefined {
  const file = join(cfg.secretsDir, 'jwt-signing.jwk.json');
  return existsSync(file) ? file : undefined;
}

/** A stable user id per (prefix, index): the same prefix gives the same users, as with the dev-token route. */
function userIdOf(prefix: string, i: number): string {
  const h = createHash('sha256').update(`${prefix}-${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * `count` customers' tokens signed with the local stack's key (jwtKeyFiles), issuer and audience as the
 * local services are given them (the platform's defaults). Thousands a second, no request to anyone.
 */
export async function signLocalTokens(cfg: StackConfig, prefix: string, count: number): Promise<UserToken[]> {
  const files = jwtKeyFiles(cfg);
  const sign = await createSigner(
    { issuer: 'order-platform', audience: 'order-platform-api', ttlSeconds: ACCESS_TOKEN_TTL_SECONDS },
    parseSigningKey(readFileSync(files.JWT_SIGNING_KEY_FILE, 'utf8')),
  );
  const out: UserToken[] = [];
  for (let i = 0; i < count; i++) {
    const userId = userIdOf(prefix, i);
    const { token, expiresAt } = await sign({ userId, role: 'customer', tier: 'free' });
    out.push({ userId, token, expiresAt });
  }
  return out;
}
