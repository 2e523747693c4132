/**
 * Dev-only token minting for demos and the local walkthrough: finds or creates the user by email and
 * signs a normal access token for them. The route exists only when DEV_TOKENS is on, which the
 * configuration refuses outside dev and test.
 */
import { ACCESS_TOKEN_TTL_SECONDS, type SignAccessToken, type Sql } from '@orders/platform';
import { newId } from '../../ids';
import type { DevTokenBody, TokenView } from './model';

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
      INSERT INTO users (id, email, role, tier) VALUES (${newId()}, ${email}, ${role}, ${tier})
      ON CONFLICT (email) DO UPDATE SET role = EXCLUDED.role, tier = EXCLUDED.tier
      RETURNING id`;
    if (!user) throw new Error('user upsert returned nothing');
    const { token } = await this.sign({ userId: user.id, role, tier });
    return { accessToken: token, tokenType: 'Bearer', expiresIn: ACCESS_TOKEN_TTL_SECONDS, userId: user.id };
  }
}
