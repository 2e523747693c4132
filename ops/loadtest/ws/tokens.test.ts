/** ws-storm's tokens file: bare JWTs or JSON lines, one user per `sub`, enough users or a clear error. */
import { afterAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTokensFile, tokenClaims } from './tokens';

const dir = mkdtempSync(join(tmpdir(), 'ws-storm-tokens-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An unsigned JWT-shaped token (the load test reads claims; the edge verifies). */
const b64 = (text: string) => Buffer.from(text).toString('base64url');
const jwt = (sub: string, exp: number) => `${b64('{"alg":"ES256"}')}.${b64(JSON.stringify({ sub, exp }))}.sig`;

test('bare tokens and JSON lines; one entry per user; the first token of a user wins', () => {
  const file = join(dir, 'mixed.txt');
  writeFileSync(
    file,
    [
      '# load-test users',
      jwt('u1', 2_000_000_000),
      JSON.stringify({ accessToken: jwt('u2', 2_000_000_100) }),
      jwt('u1', 2_000_000_200),
      '',
      JSON.stringify({ token: jwt('u3', 1_999_999_999) }),
    ].join('\n'),
  );
  const users = readTokensFile(file, 3);
  expect(users.map((u) => u.userId)).toEqual(['u1', 'u2', 'u3']);
  expect(users.map((u) => u.expiresAt)).toEqual([2_000_000_000, 2_000_000_100, 1_999_999_999]);
});

test('too few distinct users, a line without a token, a token without claims: each named', () => {
  const few = join(dir, 'few.txt');
  writeFileSync(few, `${jwt('a', 1)}\n${jwt('a', 2)}\n`);
  expect(() => readTokensFile(few, 2)).toThrow(/1 distinct users; this run needs 2/);
  const bad = join(dir, 'bad.txt');
  writeFileSync(bad, `${jwt('a', 1)}\n{"user":"b"}\n`);
  expect(() => readTokensFile(bad, 2)).toThrow(/bad.txt:2: no "token"/);
  expect(() => tokenClaims('abc')).toThrow(/not a JWT/);
});
