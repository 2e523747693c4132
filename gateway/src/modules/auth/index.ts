/** HTTP for `/api/v1/auth`: register, login, refresh, logout; the dev-token route in dev and test only. */
import { Elysia, t } from 'elysia';
import { DevTokenBody, LoginBody, RefreshBody, RegisterBody, TokenPairView, TokenView, UserView } from './model';
import type { AuthService, DevTokenService } from './service';

export function authModule(auth: AuthService) {
  return new Elysia({ name: 'auth-routes', normalize: false, prefix: '/api/v1/auth' })
    .post(
      '/register',
      async ({ body, set }) => {
        set.status = 201;
        return auth.register(body);
      },
      { body: RegisterBody, response: { 201: UserView }, detail: { summary: 'Create a customer account', tags: ['auth'] } },
    )
    .post('/login', ({ body }) => auth.login(body), {
      body: LoginBody,
      response: { 200: TokenPairView },
      detail: { summary: 'Log in: an access token (15 min) and a refresh token', tags: ['auth'] },
    })
    .post('/refresh', ({ body }) => auth.refresh(body.refreshToken), {
      body: RefreshBody,
      response: { 200: TokenPairView },
      detail: { summary: 'Rotate a refresh token (single use; reuse revokes the session)', tags: ['auth'] },
    })
    .post(
      '/logout',
      async ({ body, set }) => {
        await auth.logout(body.refreshToken);
        set.status = 204;
      },
      { body: RefreshBody, response: { 204: t.Void() }, detail: { summary: 'Revoke the session of a refresh token', tags: ['auth'] } },
    );
}

export function devTokenModule(service: DevTokenService) {
  return new Elysia({ name: 'auth-dev', normalize: false, prefix: '/api/v1/auth' }).post('/dev-token', ({ body }) => service.mint(body), {
    body: DevTokenBody,
    response: { 200: TokenView },
    detail: { summary: 'Mint an access token for a demo user (dev and test only)', tags: ['auth'] },
  });
}
