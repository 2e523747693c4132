/**
 * Sessions: each login starts a family of refresh tokens (the session), and every access token names
 * its family. Refresh tokens are opaque, stored hashed and single-use: rotating one issues the next of
 * its family, and reusing one revokes the whole family. Ending a session (logout, reuse) reaches every
 * gateway and edge through the revoked-sessions feed, so its access tokens stop working at once.
 */
import { ACCESS_TOKEN_TTL_SECONDS, type Logger, type Role, type SignAccessToken, type Sql, type Tier } from '@orders/platform';
import { GatewayErrorCodes } from '../../error-codes';
import { DomainError } from '../../errors';
import { newId } from '../../ids';
import type { TokenPairView } from './model';
import { hashRefreshToken, newRefreshToken } from './refresh-tokens';

/** Why a refresh token is refused, as its code and what the client is told. */
const REFRESH_REFUSALS = {
  [GatewayErrorCodes.authRefreshInvalid]: 'The refresh token is not known.',
  [GatewayErrorCodes.authRefreshRevoked]: 'The refresh token was revoked; log in again.',
  [GatewayErrorCodes.authRefreshReused]: 'The refresh token was already used; every token of this session is now revoked. Log in again.',
  [GatewayErrorCodes.authRefreshExpired]: 'The refresh token has expired; log in again.',
} as const;
type RefreshRefusal = keyof typeof REFRESH_REFUSALS;

export class SessionService {
  constructor(
    private readonly sql: Sql,
    private readonly sign: SignAccessToken,
    private readonly refreshTtlSeconds: number,
    /** The revoked-sessions feed every gateway and edge listens to. */
    private readonly revocations: { revoke(sessionId: string): Promise<void> },
    private readonly logger: Logger,
  ) {}

  /** A new session for a user who just logged in: its first token pair. */
  start(user: { id: string; role: Role; tier: Tier }): Promise<TokenPairView> {
    return this.issue(user, newId());
  }

  /** A new access token and a new refresh token in `familyId` (`refreshId`: the new token's row). */
  private async issue(
    user: { id: string; role: Role; tier: Tier },
    familyId: string,
    tx: Sql = this.sql,
    refreshId: string = newId(),
  ): Promise<TokenPairView> {
    const refresh = newRefreshToken();
    await tx`
      INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at)
      VALUES (${refreshId}, ${familyId}, ${user.id}, ${refresh.hash}, now() + ${this.refreshTtlSeconds} * interval '1 second')`;
    // The access token names its session (the family): ending the session ends the token at once.
    const { token } = await this.sign({ userId: user.id, role: user.role, tier: user.tier, sessionId: familyId });
    return {
      accessToken: token,
      tokenType: 'Bearer',
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
      refreshToken: refresh.token,
      refreshExpiresIn: this.refreshTtlSeconds,
    };
  }

  /**
   * Rotates a refresh token. A token that was already used means it leaked (or a client raced itself):
   * the whole family is revoked, committed, and the caller must log in again.
   */
  async refresh(token: string): Promise<TokenPairView> {
    const hash = hashRefreshToken(token);
    const outcome = await this.sql.begin(async (tx) => {
      const [row] = await tx<
        {
          id: string;
          family_id: string;
          user_id: string;
          expires_at: Date;
          used_at: Date | null;
          revoked_at: Date | null;
          role: Role;
          tier: Tier;
        }[]
      >`
        SELECT t.id, t.family_id, t.user_id, t.expires_at, t.used_at, t.revoked_at, u.role, u.tier
        FROM refresh_tokens t JOIN users u ON u.id = t.user_id
        WHERE t.token_hash = ${hash}
        FOR UPDATE OF t`;
      type Outcome = {
        pair?: TokenPairView;
        error?: RefreshRefusal;
        /** A family revoked by this call: its access tokens end too. */
        family?: string;
      };
      if (!row) return { error: GatewayErrorCodes.authRefreshInvalid } as Outcome;
      if (row.revoked_at) return { error: GatewayErrorCodes.authRefreshRevoked } as Outcome;
      if (row.used_at) {
        await tx`UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = ${row.family_id} AND revoked_at IS NULL`;
        return { error: GatewayErrorCodes.authRefreshReused, family: row.family_id } as Outcome;
      }
      if (row.expires_at.getTime() <= Date.now()) return { error: GatewayErrorCodes.authRefreshExpired } as Outcome;
      const next = newId();
      const pair = await this.issue({ id: row.user_id, role: row.role, tier: row.tier }, row.family_id, tx as unknown as Sql, next);
      await tx`UPDATE refresh_tokens SET used_at = now(), replaced_by = ${next} WHERE id = ${row.id}`;
      return { pair } as Outcome;
    });
    if (outcome.pair) return outcome.pair;
    if (outcome.family) await this.endSession(outcome.family);
    const code = outcome.error ?? GatewayErrorCodes.authRefreshInvalid;
    throw new DomainError('unauthenticated', code, 'Invalid refresh token', REFRESH_REFUSALS[code]);
  }

  /**
   * Revokes the session (the token's family) and ends its access tokens, on the REST API and on open
   * sockets. Unknown tokens are accepted silently: logout is idempotent.
   */
  async logout(token: string): Promise<void> {
    const [row] = await this.sql<
      { family_id: string }[]
    >`SELECT family_id FROM refresh_tokens WHERE token_hash = ${hashRefreshToken(token)}`;
    if (!row) return;
    await this.sql`UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = ${row.family_id} AND revoked_at IS NULL`;
    await this.endSession(row.family_id);
  }

  /**
   * Tells every gateway and edge that the session's access tokens are void. The refresh tokens are
   * revoked in the database already; if Redis cannot be told, the access tokens still expire within
   * their 15 minutes (logged, and the caller's logout still succeeds).
   */
  private async endSession(familyId: string): Promise<void> {
    try {
      await this.revocations.revoke(familyId);
    } catch (err) {
      this.logger.warn({ err }, 'session revoked in the database but not announced; its access tokens last until they expire');
    }
  }
}
