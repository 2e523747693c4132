import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { base64url, type JWK, SignJWT } from 'jose';
import { ACCESS_TOKEN_TTL_SECONDS, AuthError, bearerToken, createSigner, createVerifier, parsePublicKeySet, parseSigningKey } from './jwt';

function keyPair(kid: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    priv: { ...(privateKey.export({ format: 'jwk' }) as JWK), kid },
    pub: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid },
  };
}

const settings = { issuer: 'order-platform', audience: 'order-platform-api' };
const userId = randomUUID();

async function setup() {
  const k1 = keyPair('k1');
  const k2 = keyPair('k2');
  const verify = createVerifier(settings, parsePublicKeySet(JSON.stringify({ keys: [k1.pub, k2.pub] })));
  const sign1 = await createSigner({ ...settings, ttlSeconds: ACCESS_TOKEN_TTL_SECONDS }, parseSigningKey(JSON.stringify(k1.priv)));
  const sign2 = await createSigner({ ...settings, ttlSeconds: ACCESS_TOKEN_TTL_SECONDS }, parseSigningKey(JSON.stringify(k2.priv)));
  return { k1, k2, verify, sign1, sign2 };
}

function code(expected: string) {
  return (err: unknown) => err instanceof AuthError && err.code === expected;
}

describe('access tokens', () => {
  it('verifies tokens signed by any key of the set (rotation) and returns the principal', async () => {
    const { verify, sign1, sign2 } = await setup();
    for (const sign of [sign1, sign2]) {
      const { token, expiresAt } = await sign({ userId, role: 'customer', tier: 'premium' });
      const p = await verify(token);
      assert.equal(p.userId, userId);
      assert.equal(p.role, 'customer');
      assert.equal(p.tier, 'premium');
      assert.equal(p.expiresAt, expiresAt);
      assert.ok(expiresAt - Math.floor(Date.now() / 1000) <= 15 * 60);
    }
  });

  it('refuses an expired token with its own code', async () => {
    const { verify, sign1 } = await setup();
    const { token } = await sign1({ userId, role: 'customer', tier: 'free' }, Math.floor(Date.now() / 1000) - 3600);
    await assert.rejects(verify(token), code('AUTH_TOKEN_EXPIRED'));
  });

  it('refuses a token signed by a key outside the set, a tampered token, and alg=none', async () => {
    const { verify } = await setup();
    const stranger = keyPair('k1'); // same kid, different key
    const foreign = await createSigner({ ...settings, ttlSeconds: 60 }, stranger.priv);
    await assert.rejects(verify((await foreign({ userId, role: 'admin', tier: 'enterprise' })).token), code('AUTH_TOKEN_INVALID'));

    const { sign1 } = await setup();
    const { token } = await sign1({ userId, role: 'customer', tier: 'free' });
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p)));
    const elevated = base64url.encode(JSON.stringify({ ...claims, role: 'admin' }));
    await assert.rejects(verify(`${h}.${elevated}.${s}`), code('AUTH_TOKEN_INVALID'));

    const none = `${base64url.encode(JSON.stringify({ alg: 'none', kid: 'k1' }))}.${p}.`;
    await assert.rejects(verify(none), code('AUTH_TOKEN_INVALID'));
  });

  it('refuses a wrong audience or issuer, and unknown roles or tiers', async () => {
    const { k1, verify } = await setup();
    const key = k1.priv;
    const { importJWK } = await import('jose');
    const signingKey = await importJWK(key, 'ES256');
    const base = () =>
      new SignJWT({ role: 'customer', tier: 'free' })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setSubject(userId)
        .setIssuedAt()
        .setExpirationTime('5m')
        .setJti(randomUUID());
    await assert.rejects(
      verify(await base().setIssuer('evil').setAudience(settings.audience).sign(signingKey)),
      code('AUTH_TOKEN_INVALID'),
    );
    await assert.rejects(verify(await base().setIssuer(settings.issuer).setAudience('other').sign(signingKey)), code('AUTH_TOKEN_INVALID'));
    const godMode = await new SignJWT({ role: 'root', tier: 'free' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject(userId)
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setIssuedAt()
      .setExpirationTime('5m')
      .setJti(randomUUID())
      .sign(signingKey);
    await assert.rejects(verify(godMode), code('AUTH_TOKEN_INVALID'));
  });

  it('remembers a verified token until it expires, and only a byte-identical token hits', async () => {
    const k1 = keyPair('k1');
    let clock = Date.now();
    const verify = createVerifier(settings, parsePublicKeySet(JSON.stringify({ keys: [k1.pub] })), { now: () => clock });
    const sign = await createSigner({ ...settings, ttlSeconds: 60 }, k1.priv);
    const { token } = await sign({ userId, role: 'customer', tier: 'free' });
    const first = await verify(token);
    assert.equal(await verify(token), first, 'the second verification comes from the cache');
    const [h, p, s] = token.split('.') as [string, string, string];
    await assert.rejects(verify(`${h}.${p}.${s.slice(0, -2)}AA`), code('AUTH_TOKEN_INVALID'));
    clock += 120_000;
    await assert.rejects(verify(token), code('AUTH_TOKEN_EXPIRED'));
  });

  it('says a token is missing rather than invalid', async () => {
    const { verify } = await setup();
    await assert.rejects(verify(undefined), code('AUTH_TOKEN_MISSING'));
    await assert.rejects(verify('not.a.jwt'), code('AUTH_TOKEN_INVALID'));
  });

  it('refuses key material that does not fit', () => {
    const { priv, pub } = keyPair('k9');
    assert.throws(() => parsePublicKeySet(JSON.stringify({ keys: [priv] })), /private key/);
    assert.throws(() => parsePublicKeySet(JSON.stringify({ keys: [{ ...pub, kid: undefined }] })), /kid/);
    assert.throws(() => parseSigningKey(JSON.stringify(pub)), /private/);
  });

  it('extracts bearer tokens strictly', () => {
    assert.equal(bearerToken('Bearer a.b.c'), 'a.b.c');
    assert.equal(bearerToken('bearer a.b.c'), undefined);
    assert.equal(bearerToken('Basic dXNlcg=='), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });
});
