/**
 * Authentication, authorization and rate limiting, in the order a request meets them. Routes opt in:
 * `auth: [roles]` verifies the bearer token and the role, then applies the user's rate limits, all
 * before the body is validated (an anonymous or throttled caller learns nothing about a route's
 * schema); `principal` is then resolved for the handler. Public routes declare `anonymous: 'ip'` (per-IP
 * limits) or `anonymous: 'login'` (login limits, fail closed). A route with neither is unlimited and
 * public: health, metrics, docs. Deny by default: an empty role list admits nobody. A request that
 * fails to authenticate counts against its address's per-IP limit, and an address over that limit is
 * refused before its token is verified (FailedAuthGuard).
 */
import { AuthError, bearerToken, clientIp, HttpError, type Principal, type Role, type VerifyAccessToken } from '@orders/platform';
import { Elysia } from 'elysia';
import { GatewayErrorCodes } from '../error-codes';
import { FailedAuthGuard } from './rate-limit/failed-auth';
import { type Limits, limitAnonymous, limitLoginIp, limitUser } from './rate-limit/index';

export function authPlugin(verify: VerifyAccessToken, limits?: Limits) {
  const verified = new WeakMap<Request, Principal>();
  const failures = new FailedAuthGuard();
  return new Elysia({ name: 'auth', normalize: false }).macro({
    auth: (roles: readonly Role[]) => ({
      async transform({ request, route, set, server }) {
        // The peer address is read now (Bun forgets it once the client has gone); it is parsed into the
        // client's address only while some address is refused or when this request fails.
        const peer = limits ? server?.requestIP(request)?.address : undefined;
        const ipOf = () => (limits ? clientIp(request, peer, limits.trustedProxies) : '');
        const header = request.headers.get('authorization');
        const token = bearerToken(header);
        // An address over its failed-authentication limit is refused before any signature is verified;
        // a token this gateway already verified costs nothing to check, so its user (behind the same NAT
        // as whoever failed) goes on.
        const refused = limits && failures.active ? failures.refusal(ipOf()) : undefined;
        if (refused && !(token !== undefined && verify.isCached?.(token))) throw refused;
        let principal: Principal;
        try {
          // A present but malformed header is an invalid token, not a missing one.
          principal = await verify(header && !token ? 'malformed' : token);
        } catch (err) {
          // Not authenticated: the request counts against its address (a 429 once over the limit).
          if (limits && err instanceof AuthError) await failures.count(limits, ipOf(), set.headers);
          throw err;
        }
        if (!roles.includes(principal.role)) {
          throw new HttpError(403, GatewayErrorCodes.forbidden, 'Forbidden', 'Your role does not allow this operation.');
        }
        if (limits) await limitUser(limits, principal, request.method, route, set.headers);
        verified.set(request, principal);
      },
      resolve({ request }): { principal: Principal } {
        const principal = verified.get(request);
        // Unreachable while transform runs first; refuse rather than assume if that ever changes.
        if (!principal) throw new HttpError(401, GatewayErrorCodes.tokenMissing, 'Authentication required', 'an access token is required');
        return { principal };
      },
    }),
    anonymous: (kind: 'ip' | 'login') => ({
      async transform({ request, route, set, server }) {
        if (!limits) return;
        const ip = clientIp(request, server?.requestIP(request)?.address, limits.trustedProxies);
        if (kind === 'login') await limitLoginIp(limits, ip, set.headers);
        else await limitAnonymous(limits, ip, request.method, route, set.headers);
      },
    }),
  });
}
