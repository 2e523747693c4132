/** `/api/v1/auth`: for now only the dev-token route (mounted in dev and test only). */
import { Elysia } from 'elysia';
import { DevTokenBody, TokenView } from './model';
import type { DevTokenService } from './service';

export function devTokenModule(service: DevTokenService) {
  return new Elysia({ name: 'auth-dev', normalize: false, prefix: '/api/v1/auth' }).post('/dev-token', ({ body }) => service.mint(body), {
    body: DevTokenBody,
    response: { 200: TokenView },
    detail: { summary: 'Mint an access token for a demo user (dev only)', tags: ['auth'] },
  });
}
