/**
 * Accounts and tokens: registration, login with lockout, refresh-token rotation with reuse detection,
 * logout. Passwords are argon2id (Bun.password). Access tokens are short-lived JWTs; refresh tokens are
 * opaque, stored hashed, single-use.
 */
import {
  ACCESS_TOKEN_TTL_SECONDS,
  type Logger,
  PgErrorCodes,
  pgErrorCode,
  type Role,
  type SignAccessToken,
  type Sql,
  type Tier,
} from '@orders/platform';
import { DomainError } from '../../errors';
import {
  type DevTokenBody,
  type LoginBody,
  MIN_PASSWORD_CHARACTERS,
  type RegisterBody,
  type TokenPairView,
  type TokenView,
  type UserView,
} from './model';
import { hashRefreshToken, newRefreshToken } from './refresh-tokens';

export interface AuthSettings {
  maxFailures: number;
  lockMs: number;
  refreshTtlSeconds: number;
  passwordMemoryKib: number;
  passwordTimeCost: number;
}

interface UserRow {
  id: string;
  email: string;
  password_hash: string | null;
  role: Role;
  tier: Tier;
  failed_logins: number;
  locked_until: Date | null;
  created_at: Date;
}

const invalidCredentials = () =>
  new DomainError('unauthenticated', 'AUTH_INVALID_CREDENTIALS', 'Invalid credentials', 'The email or the password is wrong.');

export class AuthService {
  /** Verified against when the email is unknown, so both failures take the same time. */
  private readonly decoy: Promise<string>;

  constructor(
    private readonly sql: Sql,
    private readonly sign: SignAccessToken,
    private readonly s: AuthSettings,
    private readonly sessions: { revoke(sessionId: string): Promise<void> },
    private readonly logger: Logger,
  ) {
    this.decoy = this.hash(crypto.randomUUID());
  }

  private hash(password: string): Promise<string> {
    return Bun.password.hash(password, { algorithm: 'argon2id', memoryCost: this.s.passwordMemoryKib, timeCost: this.s.passwordTimeCost });
  }

  async register(body: RegisterBody): Promise<UserView> {
    // The schema's 12 counts characters, as JSON Schema does; the validator counts UTF-16 code units, so
    // 11 characters outside the BMP (emoji) passed it.
    if (Array.from(body.password).length < MIN_PASSWORD_CHARACTERS) {
      throw new DomainError('bad_request', 'VALIDATION_FAILED', 'Request validation failed', 'The body has 1 invalid field(s).', {
        errors: [{ field: '/password', message: `Expected string length greater or equal to ${MIN_PASSWORD_CHARACTERS}` }],
      });
    }
    const email = body.email.toLowerCase();
    const hash = await this.hash(body.password);
    try {
      const [u] = await this.sql<UserRow[]>`
        INSERT INTO users (id, email, password_hash, role, tier) VALUES (${Bun.randomUUIDv7()}, ${email}, ${hash}, 'customer', 'free')
        RETURNING id, email, role, tier, created_at`;
      if (!u) throw new Error('insert returned nothing');
      return { id: u.id, email: u.email, role: u.role, tier: u.tier, createdAt: u.created_at.toISOString() };
    } catch (err) {
      if (pgErrorCode(err) === PgErrorCodes.uniqueViolation) {
        throw new DomainError(
          'conflict',
          'AUTH_EMAIL_TAKEN',
          'Email already registered',
          'An account with this email exists; log in instead.',
        );
      }
      throw err;
    }
  }

  async login(body: LoginBody): Promise<TokenPairView> {
    const email = body.email.toLowerCase();
    const [user] = await this.sql<UserRow[]>`
      SELECT id, email, password_hash, role, tier, failed_logins, locked_until, created_at FROM users WHERE email = ${email}`;
    if (!user?.password_hash) {
      await Bun.password.verify(body.password, await this.decoy);
      throw invalidCredentials();
    }
    if (user.locked_until && user.locked_until.getTime() > Date.now()) throw this.locked(user.locked_until);
    if (!(await Bun.password.verify(body.password, user.password_hash))) {
      const [after] = await this.sql<{ locked_until: Date | null }[]>`
        UPDATE users SET
          failed_logins = failed_logins + 1,
          locked_until = CASE WHEN failed_logins + 1 >= ${this.s.maxFailures}
                              THEN now() + ${this.s.lockMs} * interval '1 millisecond' ELSE locked_until END
        WHERE id = ${user.id}
        RETURNING locked_until`;
      if (after?.locked_until && after.locked_until.getTime() > Date.now()) throw this.locked(after.locked_until);
      throw invalidCredentials();
    }
    if (user.failed_logins > 0 || user.locked_until)
      await this.sql`UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ${user.id}`;
    return this.issue(user, Bun.randomUUIDv7());
  }

  private locked(until: Date): DomainError {
    const seconds = Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000));
    return new DomainError('locked', 'AUTH_ACCOUNT_LOCKED', 'Account locked', `Too many failed logins; try again in ${seconds} s.`, {
      headers: { 'retry-after': String(seconds) },
    });
  }

  /** A new access token and a new refresh token in `familyId` (`refreshId`: the new token's row). */
  private async issue(
    user: Pick<UserRow, 'id' | 'role' | 'tier'>,
    familyId: string,
    tx: Sql = this.sql,
    refreshId: string = Bun.randomUUIDv7(),
  ): Promise<TokenPairView> {
    const refresh = newRefreshToken();
    await tx`
      INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at)
      VALUES (${refreshId}, ${familyId}, ${user.id}, ${refresh.hash}, now() + ${this.s.refreshTtlSeconds} * interval '1 second')`;
    // The access token names its session (the family): ending the session ends the token at once.
    const { token } = await this.sign({ userId: user.id, role: user.role, tier: user.tier, sessionId: familyId });
    return {
      accessToken: token,
      tokenType: 'Bearer',
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
      refreshToken: refresh.token,
      refreshExpiresIn: this.s.refreshTtlSeconds,
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
        error?: 'AUTH_REFRESH_INVALID' | 'AUTH_REFRESH_REVOKED' | 'AUTH_REFRESH_REUSED' | 'AUTH_REFRESH_EXPIRED';
        /** A family revoked by this call: its access tokens end too. */
        family?: string;
      };
      if (!row) return { error: 'AUTH_REFRESH_INVALID' } as Outcome;
      if (row.revoked_at) return { error: 'AUTH_REFRESH_REVOKED' } as Outcome;
      if (row.used_at) {
        await tx`UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = ${row.family_id} AND revoked_at IS NULL`;
        return { error: 'AUTH_REFRESH_REUSED', family: row.family_id } as Outcome;
      }
      if (row.expires_at.getTime() <= Date.now()) return { error: 'AUTH_REFRESH_EXPIRED' } as Outcome;
      const next = Bun.randomUUIDv7();
      const pair = await this.issue({ id: row.user_id, role: row.role, tier: row.tier }, row.family_id, tx as unknown as Sql, next);
      await tx`UPDATE refresh_tokens SET used_at = now(), replaced_by = ${next} WHERE id = ${row.id}`;
      return { pair } as Outcome;
    });
    if (outcome.pair) return outcome.pair;
    if (outcome.family) await this.endSession(outcome.family);
    const detail = {
      AUTH_REFRESH_INVALID: 'The refresh token is not known.',
      AUTH_REFRESH_REVOKED: 'The refresh token was revoked; log in again.',
      AUTH_REFRESH_REUSED: 'The refresh token was already used; every token of this session is now revoked. Log in again.',
      AUTH_REFRESH_EXPIRED: 'The refresh token has expired; log in again.',
    }[outcome.error ?? 'AUTH_REFRESH_INVALID'];
    const code = outcome.error ?? 'AUTH_REFRESH_INVALID';
    throw new DomainError('unauthenticated', code, 'Invalid refresh token', detail);
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
      await this.sessions.revoke(familyId);
    } catch (err) {
      this.logger.warn({ err }, 'session revoked in the database but not announced; its access tokens last until they expire');
    }
  }
}

/**
 * Dev-only token minting for demos and the local walkthrough: finds or creates the user by email and
 * signs a normal access token for them. The route exists only when DEV_TOKENS is on, which the
 * configuration refuses outside dev and test.
 */
export class DevTokenService {
  constructor(
    private readonly sql: Sql,
    private readonly sign: SignAccessToken,
  ) {}

  async mint(body: DevTokenBody): Promise<TokenView> {
    const email = body.email.toLowerCase();
    const role = body.role ?? 'customer';
    const tier = body.tier ?? 'standard';
    const [user] = await this.sql<{ id: string }[]>`
      INSERT INTO users (id, email, role, tier) VALUES (${Bun.randomUUIDv7()}, ${email}, ${role}, ${tier})
      ON CONFLICT (email) DO UPDATE SET role = EXCLUDED.role, tier = EXCLUDED.tier
      RETURNING id`;
    if (!user) throw new Error('user upsert returned nothing');
    const { token } = await this.sign({ userId: user.id, role, tier });
    return { accessToken: token, tokenType: 'Bearer', expiresIn: ACCESS_TOKEN_TTL_SECONDS, userId: user.id };
  }
}
