/**
 * Authentication and authorization. Routes opt in with `auth: [roles]`; the macro verifies the bearer
 * token and resolves `principal`. A route without the macro is public, so every protected module
 * declares its roles explicitly (deny by default: an empty list admits nobody).
 */
import { bearerToken, HttpError, type Principal, type Role, type VerifyAccessToken } from '@orders/platform';
import { Elysia } from 'elysia';

export function authPlugin(verify: VerifyAccessToken) {
  return new Elysia({ name: 'auth', normalize: false }).macro({
    auth: (roles: readonly Role[]) => ({
      async resolve({ request }): Promise<{ principal: Principal }> {
        const header = request.headers.get('authorization');
        const token = bearerToken(header);
        // A present but malformed header is an invalid token, not a missing one.
        const principal = await verify(header && !token ? 'malformed' : token);
        if (!roles.includes(principal.role)) {
          throw new HttpError(403, 'FORBIDDEN', 'Forbidden', 'Your role does not allow this operation.');
        }
        return { principal };
      },
    }),
  });
}
