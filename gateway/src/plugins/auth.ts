/**
 * Authentication and authorization. Routes opt in with `auth: [roles]`: the token is verified and the
 * role checked before the body is validated (an anonymous caller learns nothing about a route's
 * schema), then `principal` is resolved for the handler. A route without the macro is public, so every
 * protected module declares its roles explicitly (deny by default: an empty list admits nobody).
 */
import { bearerToken, HttpError, type Principal, type Role, type VerifyAccessToken } from '@orders/platform';
import { Elysia } from 'elysia';

export function authPlugin(verify: VerifyAccessToken) {
  const verified = new WeakMap<Request, Principal>();
  return new Elysia({ name: 'auth', normalize: false }).macro({
    auth: (roles: readonly Role[]) => ({
      async transform({ request }) {
        const header = request.headers.get('authorization');
        const token = bearerToken(header);
        // A present but malformed header is an invalid token, not a missing one.
        const principal = await verify(header && !token ? 'malformed' : token);
        if (!roles.includes(principal.role)) {
          throw new HttpError(403, 'FORBIDDEN', 'Forbidden', 'Your role does not allow this operation.');
        }
        verified.set(request, principal);
      },
      resolve({ request }): { principal: Principal } {
        const principal = verified.get(request);
        // Unreachable while transform runs first; refuse rather than assume if that ever changes.
        if (!principal) throw new HttpError(401, 'AUTH_TOKEN_MISSING', 'Authentication required', 'an access token is required');
        return { principal };
      },
    }),
  });
}
