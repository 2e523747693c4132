/**
 * Access tokens: ES256 JWTs, 15 minutes, signed by the gateway with the active key and verified by
 * every service (gateway, WebSocket edge) against a key set, so keys rotate by adding the new public
 * key, switching the signer, then retiring the old key once its tokens have expired.
 *
 * Verification pins the algorithm (a token claiming `none` or HS256 is refused), requires `exp`, `iat`,
 * `sub`, `kid`, and checks issuer and audience. jose does the cryptography; it is the library under
 * @elysiajs/jwt, used directly here because the edge is not an Elysia app and key sets need `kid`.
 */
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, errors, importJWK, type JWK, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { PlatformErrorCodes } from '../error-codes';

export const JWT_ALGORITHM = 'ES256';
export const ROLES = ['customer', 'admin'] as const;
export const TIERS = ['free', 'standard', 'premium', 'enterprise'] as const;
export type Role = (typeof ROLES)[number];
export type Tier = (typeof TIERS)[number];

export interface Principal {
  userId: string;
  role: Role;
  tier: Tier;
  tokenId: string;
  /** Epoch seconds. */
  expiresAt: number;
  /** The session the token belongs to (its refresh-token family): ending it ends the token. */
  sessionId?: string;
}

export type AuthErrorCode =
  | typeof PlatformErrorCodes.tokenMissing
  | typeof PlatformErrorCodes.tokenInvalid
  | typeof PlatformErrorCodes.tokenExpired
  | typeof PlatformErrorCodes.tokenRevoked;

export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface JwtSettings {
  issuer: string;
  audience: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Parses a JWKS document (`{"keys":[...]}`): public EC P-256 keys, each with a `kid`. */
export function parsePublicKeySet(text: string): { keys: JWK[] } {
  const doc = JSON.parse(text) as { keys?: JWK[] };
  if (!Array.isArray(doc.keys) || doc.keys.length === 0) throw new Error('the JWT key set has no keys');
  for (const k of doc.keys) {
    if (!k.kid) throw new Error('every JWT public key needs a kid');
    if (k.kty !== 'EC' || k.crv !== 'P-256') throw new Error(`JWT key ${k.kid} is not an EC P-256 key`);
    if ('d' in k) throw new Error(`JWT key ${k.kid} is a private key; the verifier only needs public keys`);
  }
  return { keys: doc.keys.map((k) => ({ ...k, alg: JWT_ALGORITHM, use: 'sig' })) };
}

export interface VerifierOptions {
  /**
   * Tokens whose verification result is remembered (until they expire). A client sends the same token
   * with every request for 15 minutes; an ES256 verification costs ~130 µs of CPU (a one-off measurement), a lookup nothing.
   * The key is the whole token, signature included, so only a byte-identical token hits. 0 disables.
   */
  cacheSize?: number;
  now?: () => number;
  /** Whether a session was ended (logout, a reused refresh token): checked on every call, cached or not. */
  isRevoked?: (sessionId: string) => boolean;
}

export function createVerifier(settings: JwtSettings, keySet: { keys: JWK[] }, opts: VerifierOptions = {}) {
  const keys = createLocalJWKSet(keySet);
  const cacheSize = opts.cacheSize ?? 50_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, Principal>();

  const verifyAccessToken = async (token: string | undefined | null): Promise<Principal> => {
    if (!token) throw new AuthError(PlatformErrorCodes.tokenMissing, 'an access token is required');
    const hit = cache.get(token);
    if (hit) {
      if (hit.expiresAt * 1000 <= now()) {
        cache.delete(token);
        throw new AuthError(PlatformErrorCodes.tokenExpired, 'the access token has expired');
      }
      return unlessRevoked(hit);
    }
    const principal = unlessRevoked(await verifyUncached(token));
    if (cacheSize > 0) {
      // Oldest-first eviction: Map iteration order is insertion order.
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string);
      cache.set(token, principal);
    }
    return principal;
  };

  /** Whether this exact token was verified before and has not expired: checking it costs no signature. */
  const isCached = (token: string): boolean => {
    const hit = cache.get(token);
    return hit !== undefined && hit.expiresAt * 1000 > now();
  };

  return Object.assign(verifyAccessToken, { isCached });

  function unlessRevoked(p: Principal): Principal {
    if (p.sessionId !== undefined && opts.isRevoked?.(p.sessionId))
      throw new AuthError(PlatformErrorCodes.tokenRevoked, 'the session has ended; log in again');
    return p;
  }

  async function verifyUncached(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: [JWT_ALGORITHM],
        issuer: settings.issuer,
        audience: settings.audience,
        requiredClaims: ['exp', 'iat', 'sub', 'jti'],
        clockTolerance: 5,
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new AuthError(PlatformErrorCodes.tokenExpired, 'the access token has expired');
      throw new AuthError(PlatformErrorCodes.tokenInvalid, 'the access token is not valid');
    }
    const { sub, role, tier, jti, exp, sid } = payload as JWTPayload & { role?: unknown; tier?: unknown; sid?: unknown };
    if (typeof sub !== 'string' || !UUID.test(sub))
      throw new AuthError(PlatformErrorCodes.tokenInvalid, 'the access token has no valid subject');
    if (!ROLES.includes(role as Role)) throw new AuthError(PlatformErrorCodes.tokenInvalid, 'the access token has no valid role');
    if (!TIERS.includes(tier as Tier)) throw new AuthError(PlatformErrorCodes.tokenInvalid, 'the access token has no valid tier');
    if (sid !== undefined && (typeof sid !== 'string' || !UUID.test(sid)))
      throw new AuthError(PlatformErrorCodes.tokenInvalid, 'the access token has no valid session');
    return Object.freeze({
      userId: sub.toLowerCase(),
      role: role as Role,
      tier: tier as Tier,
      tokenId: String(jti),
      expiresAt: Number(exp),
      ...(typeof sid === 'string' ? { sessionId: sid.toLowerCase() } : {}),
    });
  }
}

/** A verifier: `isCached` (optional, so a test double may leave it out) tells a token checked before. */
export type VerifyAccessToken = ((token: string | undefined | null) => Promise<Principal>) & { isCached?: (token: string) => boolean };

/** Parses the active signing key: a private EC P-256 JWK with a `kid`. */
export function parseSigningKey(text: string): JWK {
  const jwk = JSON.parse(text) as JWK;
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.d) throw new Error('the JWT signing key must be a private EC P-256 JWK');
  if (!jwk.kid) throw new Error('the JWT signing key needs a kid');
  return jwk;
}

export interface TokenClaims {
  userId: string;
  role: Role;
  tier: Tier;
  /** The session (refresh-token family); tokens without one (dev tokens) cannot be ended early. */
  sessionId?: string;
}

export async function createSigner(settings: JwtSettings & { ttlSeconds: number }, signingKey: JWK) {
  const key = await importJWK({ ...signingKey, alg: JWT_ALGORITHM }, JWT_ALGORITHM);
  const kid = String(signingKey.kid);
  return async function signAccessToken(claims: TokenClaims, now = Math.floor(Date.now() / 1000)) {
    const expiresAt = now + settings.ttlSeconds;
    const token = await new SignJWT({ role: claims.role, tier: claims.tier, ...(claims.sessionId ? { sid: claims.sessionId } : {}) })
      .setProtectedHeader({ alg: JWT_ALGORITHM, kid, typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setIssuedAt(now)
      .setExpirationTime(expiresAt)
      .setJti(randomUUID())
      .sign(key);
    return { token, expiresAt };
  };
}

export type SignAccessToken = Awaited<ReturnType<typeof createSigner>>;

/** Access tokens live 15 minutes. */
export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;

/** `Authorization: Bearer <token>` → token; anything else → undefined. */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer ([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+)$/.exec(header.trim());
  return match?.[1];
}
