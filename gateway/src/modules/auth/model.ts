import { ROLES, TIERS } from '@orders/platform';
import { t } from 'elysia';

export const DevTokenBody = t.Object(
  {
    email: t.String({ format: 'email', maxLength: 254 }),
    role: t.Optional(t.Union(ROLES.map((r) => t.Literal(r)))),
    tier: t.Optional(t.Union(TIERS.map((x) => t.Literal(x)))),
  },
  { additionalProperties: false },
);
export type DevTokenBody = typeof DevTokenBody.static;

export const TokenView = t.Object({
  accessToken: t.String(),
  tokenType: t.Literal('Bearer'),
  expiresIn: t.Integer(),
  userId: t.String({ format: 'uuid' }),
});
export type TokenView = typeof TokenView.static;
