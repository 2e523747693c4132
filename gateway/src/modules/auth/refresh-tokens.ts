/**
 * Opaque refresh tokens: `rt_` + 32 random bytes (base64url). Only their SHA-256 is stored: the token
 * has 256 bits of entropy, so a fast hash is enough and lookups stay an index probe.
 */
import { createHash, randomBytes } from 'node:crypto';

export function newRefreshToken(): { token: string; hash: Buffer } {
  const token = `rt_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
