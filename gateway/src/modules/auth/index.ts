/** HTTP for `/api/v1/auth`: register, login, refresh, logout; the dev-token route in dev and test only. */
import { Elysia, t } from 'elysia';
import { problems } from '../../openapi';
import type { authPlugin } from '../../plugins/auth';
import { type Limits, limitLoginAccount } from '../../plugins/rate-limit/index';
import type { DevTokenService } from './dev-tokens';
import { DevTokenBody, LoginBody, RefreshBody, RegisterBody, TokenPairView, TokenView, UserView } from './model';
import type { AuthService } from './service';
import type { SessionService } from './sessions';

export function authModule(access: ReturnType<typeof authPlugin>, auth: AuthService, sessions: SessionService, limits?: Limits) {
  return new Elysia({ name: 'auth-routes', normalize: false, prefix: '/api/v1/auth' })
    .use(access)
    .post(
      '/register',
      async ({ body, set }) => {
        set.status = 201;
        return auth.register(body);
      },
      {
        anonymous: 'ip',
        body: RegisterBody,
        response: { 201: UserView, ...problems(400, 409, 413, 415, 429, 503) },
        detail: { summary: 'Create a customer account', tags: ['auth'] },
      },
    )
    .post(
      '/login',
      async ({ body, set }) => {
        if (limits) await limitLoginAccount(limits, body.email, set.headers);
        return auth.login(body);
      },
      {
        anonymous: 'login',
        body: LoginBody,
        response: { 200: TokenPairView, ...problems(400, 401, 413, 415, 423, 429, 503) },
        detail: { summary: 'Log in: an access token (15 min) and a refresh token', tags: ['auth'] },
      },
    )
    .post('/refresh', ({ body }) => sessions.refresh(body.refreshToken), {
      anonymous: 'ip',
      body: RefreshBody,
      response: { 200: TokenPairView, ...problems(400, 401, 413, 415, 429, 503) },
      detail: { summary: 'Rotate a refresh token (single use; reuse revokes the session)', tags: ['auth'] },
    })
    .post(
      '/logout',
      async ({ body, set }) => {
        await sessions.logout(body.refreshToken);
        set.status = 204;
      },
      {
        anonymous: 'ip',
        body: RefreshBody,
        response: { 204: t.Void(), ...problems(400, 413, 415, 429, 503) },
        detail: { summary: 'Revoke the session of a refresh token', tags: ['auth'] },
      },
    );
}

export function devTokenModule(access: ReturnType<typeof authPlugin>, service: DevTokenService) {
  return new Elysia({ name: 'auth-dev', normalize: false, prefix: '/api/v1/auth' })
    .use(access)
    .post('/dev-token', ({ body }) => service.mint(body), {
      anonymous: 'ip',
      body: DevTokenBody,
      response: { 200: TokenView, ...problems(400, 413, 415, 429, 503) },
      detail: { summary: 'Mint an access token for a demo user (dev and test only)', tags: ['auth'] },
    });
}
