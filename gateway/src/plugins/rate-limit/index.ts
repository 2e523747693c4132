/**
 * Rate limiting for the gateway: which limits apply to a request, who the subject is, and what the
 * answer looks like. Not a plugin of its own: the `auth` macro (plugins/auth.ts) applies these before
 * a handler runs, and the login route adds the per-account limit. Authenticated requests are limited
 * per user (their tier, and the endpoint's limit when it has one); anonymous ones per client IP; login
 * per IP and per account, failing closed when the limiter cannot reach Redis. Every limited response
 * carries the X-RateLimit-* and IETF RateLimit fields; a refusal is 429 with Retry-After and a problem
 * naming the limit. Addresses that keep failing to authenticate: `failed-auth.ts`. The client IP:
 * platform/src/http/client-ip.ts.
 */
import {
  type Decision,
  HttpError,
  type LimitCheck,
  type Principal,
  type RateLimiter,
  type RateLimitPolicy,
  RateLimitUnavailable,
  rateLimitHeaders,
  type TrustedProxies,
} from '@orders/platform';
import { GatewayErrorCodes } from '../../error-codes';

export interface Limits {
  limiter: RateLimiter;
  policy: RateLimitPolicy;
  trustedProxies: TrustedProxies;
}

/** The response headers of the request being limited (`set.headers`): the limit state goes there. */
export type Headers = Record<string, string | number | undefined>;

/** `METHOD /route/template` as the policy names endpoints (no trailing slash). */
export function endpointOf(method: string, route: string): string {
  return `${method} ${route.length > 1 ? route.replace(/\/$/, '') : route}`;
}

function window(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

function refusal(d: Decision): HttpError {
  const b = d.binding;
  const retry = Math.max(1, Math.ceil((b?.resetMs ?? 1000) / 1000));
  return new HttpError(
    429,
    GatewayErrorCodes.rateLimited,
    'Too many requests',
    b ? `The limit "${b.name}" allows ${b.limit} requests per ${window(b.windowMs)}; retry in ${retry} s.` : 'Slow down.',
    { limit: b?.name, headers: rateLimitHeaders(d) },
  );
}

export async function enforce(limits: Limits, subject: string, checks: LimitCheck[], headers: Headers, failClosed = false): Promise<void> {
  if (checks.length === 0) return;
  let d: Decision;
  try {
    d = await limits.limiter.check(subject, checks, { failClosed });
  } catch (err) {
    if (err instanceof RateLimitUnavailable) {
      throw new HttpError(
        503,
        GatewayErrorCodes.rateLimiterUnavailable,
        'Temporarily unavailable',
        'This operation is refused while its rate limiter cannot work; retry shortly.',
        {
          headers: { 'retry-after': '1' },
        },
      );
    }
    throw err;
  }
  if (!d.allowed) throw refusal(d);
  Object.assign(headers, rateLimitHeaders(d));
}

/** The checks of (tier, method, route), built once per policy: the policy never changes at run time. */
const userChecks = new WeakMap<RateLimitPolicy, Map<string, LimitCheck[]>>();

function checksFor(policy: RateLimitPolicy, tier: Principal['tier'], method: string, route: string): LimitCheck[] {
  let byRoute = userChecks.get(policy);
  if (!byRoute) {
    byRoute = new Map();
    userChecks.set(policy, byRoute);
  }
  const id = `${tier} ${method} ${route}`;
  let checks = byRoute.get(id);
  if (!checks) {
    checks = [];
    const rule = policy.tiers[tier];
    if (rule) checks.push({ name: `tier:${tier}`, rule });
    const endpoint = endpointOf(method, route);
    const endpointRule = policy.endpoints[endpoint];
    if (endpointRule) checks.push({ name: endpoint, rule: endpointRule });
    // Route templates and tiers are finite; the bound only guards against a surprise.
    if (byRoute.size < 10_000) byRoute.set(id, checks);
  }
  return checks;
}

/** An authenticated request: the user's tier limit and, when it has one, the endpoint's. */
export function limitUser(limits: Limits, principal: Principal, method: string, route: string, headers: Headers): Promise<void> {
  return enforce(limits, `u:${principal.userId}`, checksFor(limits.policy, principal.tier, method, route), headers);
}

/** A request without a token: the per-IP limit and the endpoint's, keyed by IP. */
export function limitAnonymous(limits: Limits, ip: string, method: string, route: string, headers: Headers): Promise<void> {
  const checks: LimitCheck[] = [{ name: 'ip', rule: limits.policy.ip }];
  const endpoint = endpointOf(method, route);
  const rule = limits.policy.endpoints[endpoint];
  if (rule) checks.push({ name: endpoint, rule });
  return enforce(limits, `ip:${ip}`, checks, headers);
}

/** Login attempts per IP (before the body is read) and per account: both fail closed. */
export function limitLoginIp(limits: Limits, ip: string, headers: Headers): Promise<void> {
  return enforce(limits, `ip:${ip}`, [{ name: 'login:ip', rule: limits.policy.login.perIp }], headers, true);
}

export function limitLoginAccount(limits: Limits, email: string, headers: Headers): Promise<void> {
  return enforce(limits, `acct:${email.toLowerCase()}`, [{ name: 'login:account', rule: limits.policy.login.perAccount }], headers, true);
}
