/** Auth schemas: registration, login, token refresh and logout, and the dev-only token request. */
import { ROLES, TIERS } from '@orders/platform';
import { t } from 'elysia';
import { Int } from '../../schema';

const Email = t.String({ format: 'email', maxLength: 254 });
/** Long passphrases welcome; the upper bound keeps hashing cost bounded. */
/** Characters (code points), not UTF-16 units: the service checks the minimum as such. */
export const MIN_PASSWORD_CHARACTERS = 12;
const Password = t.String({ minLength: MIN_PASSWORD_CHARACTERS, maxLength: 128 });
const RefreshToken = t.String({ pattern: '^rt_[A-Za-z0-9_-]{43}$', description: 'Opaque refresh token' });

export const RegisterBody = t.Object({ email: Email, password: Password }, { additionalProperties: false });
export type RegisterBody = typeof RegisterBody.static;

export const LoginBody = t.Object({ email: Email, password: t.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });
export type LoginBody = typeof LoginBody.static;

export const RefreshBody = t.Object({ refreshToken: RefreshToken }, { additionalProperties: false });
export type RefreshBody = typeof RefreshBody.static;

const Role = t.UnionEnum(ROLES);
const Tier = t.UnionEnum(TIERS);

export const UserView = t.Object({
  id: t.String({ format: 'uuid' }),
  email: t.String(),
  role: Role,
  tier: Tier,
  createdAt: t.String({ format: 'date-time' }),
});
export type UserView = typeof UserView.static;

export const TokenPairView = t.Object({
  accessToken: t.String(),
  tokenType: t.Literal('Bearer'),
  expiresIn: Int({ description: 'seconds' }),
  refreshToken: t.String(),
  refreshExpiresIn: Int({ description: 'seconds' }),
});
export type TokenPairView = typeof TokenPairView.static;

export const DevTokenBody = t.Object(
  {
    email: Email,
    role: t.Optional(Role),
    tier: t.Optional(Tier),
  },
  { additionalProperties: false },
);
export type DevTokenBody = typeof DevTokenBody.static;

export const TokenView = t.Object({
  accessToken: t.String(),
  tokenType: t.Literal('Bearer'),
  expiresIn: Int(),
  userId: t.String({ format: 'uuid' }),
});
export type TokenView = typeof TokenView.static;
