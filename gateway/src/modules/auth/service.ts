/**
 * Accounts: registration, and login with lockout after repeated failures. Passwords are argon2id
 * (Bun.password). A successful login starts a session (`sessions.ts`): a short-lived access token (JWT)
 * and an opaque refresh token.
 */
import { PgErrorCodes, pgErrorCode, type Role, type Sql, type Tier } from '@orders/platform';
import { GatewayErrorCodes } from '../../error-codes';
import { DomainError } from '../../errors';
import { newId } from '../../ids';
import { type LoginBody, MIN_PASSWORD_CHARACTERS, type RegisterBody, type TokenPairView, type UserView } from './model';
import type { SessionService } from './sessions';

export interface AuthSettings {
  maxFailures: number;
  lockMs: number;
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
  new DomainError(
    'unauthenticated',
    GatewayErrorCodes.authInvalidCredentials,
    'Invalid credentials',
    'The email or the password is wrong.',
  );

export class AuthService {
  /** Verified against when the email is unknown, so both failures take the same time. */
  private readonly decoy: Promise<string>;
  private readonly maxFailures: number;
  private readonly lockMs: number;
  private readonly passwordMemoryKib: number;
  private readonly passwordTimeCost: number;

  constructor(
    private readonly sql: Sql,
    settings: AuthSettings,
    private readonly sessions: SessionService,
  ) {
    this.maxFailures = settings.maxFailures;
    this.lockMs = settings.lockMs;
    this.passwordMemoryKib = settings.passwordMemoryKib;
    this.passwordTimeCost = settings.passwordTimeCost;
    // A password nobody knows, not an id: a v4 UUID is 122 random bits (a v7 would spend 48 on the time).
    this.decoy = this.hash(crypto.randomUUID());
  }

  private hash(password: string): Promise<string> {
    return Bun.password.hash(password, { algorithm: 'argon2id', memoryCost: this.passwordMemoryKib, timeCost: this.passwordTimeCost });
  }

  async register(body: RegisterBody): Promise<UserView> {
    // The schema's 12 counts characters, as JSON Schema does; the validator counts UTF-16 code units, so
    // 11 characters outside the BMP (emoji) passed it.
    if (Array.from(body.password).length < MIN_PASSWORD_CHARACTERS) {
      throw new DomainError(
        'bad_request',
        GatewayErrorCodes.validationFailed,
        'Request validation failed',
        'The body has 1 invalid field(s).',
        {
          errors: [{ field: '/password', message: `Expected string length greater or equal to ${MIN_PASSWORD_CHARACTERS}` }],
        },
      );
    }
    const email = body.email.toLowerCase();
    const hash = await this.hash(body.password);
    try {
      const [u] = await this.sql<UserRow[]>`
        INSERT INTO users (id, email, password_hash, role, tier) VALUES (${newId()}, ${email}, ${hash}, 'customer', 'free')
        RETURNING id, email, role, tier, created_at`;
      if (!u) throw new Error('insert returned nothing');
      return { id: u.id, email: u.email, role: u.role, tier: u.tier, createdAt: u.created_at.toISOString() };
    } catch (err) {
      if (pgErrorCode(err) === PgErrorCodes.uniqueViolation) {
        throw new DomainError(
          'conflict',
          GatewayErrorCodes.authEmailTaken,
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
          locked_until = CASE WHEN failed_logins + 1 >= ${this.maxFailures}
                              THEN now() + ${this.lockMs} * interval '1 millisecond' ELSE locked_until END
        WHERE id = ${user.id}
        RETURNING locked_until`;
      if (after?.locked_until && after.locked_until.getTime() > Date.now()) throw this.locked(after.locked_until);
      throw invalidCredentials();
    }
    if (user.failed_logins > 0 || user.locked_until)
      await this.sql`UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ${user.id}`;
    return this.sessions.start(user);
  }

  private locked(until: Date): DomainError {
    const seconds = Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000));
    return new DomainError(
      'locked',
      GatewayErrorCodes.authAccountLocked,
      'Account locked',
      `Too many failed logins; try again in ${seconds} s.`,
      {
        headers: { 'retry-after': String(seconds) },
      },
    );
  }
}
