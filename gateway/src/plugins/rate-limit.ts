/**
 * Rate limiting for the gateway: which limits apply to a request, who the subject is, and what the
 * answer looks like. Authenticated requests are limited per user (their tier, and the endpoint's limit
 * when it has one); anonymous ones per client IP; login per IP and per account, failing closed when
 * the limiter cannot reach Redis. Every limited response carries the X-RateLimit-* and IETF RateLimit
 * fields; a refusal is 429 with Retry-After and a problem naming the limit.
 * The client IP: platform/src/http/client-ip.ts.
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

export interface Limits {
  limiter: RateLimiter;
  policy: RateLimitPolicy;
  trustedProxies: TrustedProxies;
}

type Headers = Record<string, string | number | undefined>;

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
    'RATE_LIMITED',
    'Too many requests',
    b ? `The limit "${b.name}" allows ${b.limit} requests per ${window(b.windowMs)}; retry in ${retry} s.` : 'Slow down.',
    { limit: b?.name, headers: rateLimitHeaders(d) },
  );
}

async function enforce(limits: Limits, subject: string, checks: LimitCheck[], headers: Headers, failClosed = false): Promise<void> {
  if (checks.length === 0) return;
  let d: Decision;
  try {
    d = await limits.limiter.check(subject, checks, { failClosed });
  } catch (err) {
    if (err instanceof RateLimitUnavailable) {
      throw new HttpError(
        503,
        'RATE_LIMITER_UNAVAILABLE',
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

/**
 * Requests that do not authenticate (no token, a malformed, invalid, expired or revoked one) count
 * against their address, with the per-IP limit's rule in a bucket of their own (anonymous browsing from
 * the same address does not use it up). An address over it is then refused from memory until its window
 * lets it in again, before its next token is even verified: an ES256 verification is the most expensive
 * thing an anonymous caller can make the gateway do, and 1,200 bad tokens from one address were 1,200
 * verifications. Each gateway instance learns an address's refusal from its own count.
 */
export class FailedAuthGuard {
  private readonly refusedUntil = new Map<string, number>();

  constructor(private readonly maxAddresses = 10_000) {}

  /** Whether any address is being refused (when none is, a request needs no address to pass). */
  get active(): boolean {
    // Every refusal over: forget them all at once (entries otherwise leave only when their address returns).
    if (this.refusedUntil.size > 0 && this.lastUntil <= Date.now()) this.refusedUntil.clear();
    return this.refusedUntil.size > 0;
  }

  /** The latest end of any refusal held. */
  private lastUntil = 0;

  /** A 429 for an address still refused, or undefined. */
  refusal(ip: string, now = Date.now()): HttpError | undefined {
    const until = this.refusedUntil.get(ip);
    if (until === undefined) return undefined;
    if (until <= now) {
      this.refusedUntil.delete(ip);
      return undefined;
    }
    const retry = Math.max(1, Math.ceil((until - now) / 1000));
    return new HttpError(
      429,
      'RATE_LIMITED',
      'Too many requests',
      `Too many failed authentications from this address; retry in ${retry} s.`,
      {
        limit: 'auth-failures:ip',
        headers: { 'retry-after': String(retry) },
      },
    );
  }

  /** Counts a failed authentication; throws the 429 when the address is over its limit. */
  async count(limits: Limits, ip: string, headers: Headers): Promise<void> {
    try {
      await enforce(limits, `authfail:${ip}`, [{ name: 'auth-failures:ip', rule: limits.policy.ip }], headers);
    } catch (err) {
      if (err instanceof HttpError && err.status === 429) this.remember(ip, err);
      throw err;
    }
  }

  private remember(ip: string, err: HttpError): void {
    const retry = Number((err.extra.headers as Record<string, string> | undefined)?.['retry-after'] ?? 1);
    // Bounded: the oldest entry goes first (a flood from many addresses cannot grow it without end).
    if (this.refusedUntil.size >= this.maxAddresses) {
      const oldest = this.refusedUntil.keys().next().value;
      if (oldest !== undefined) this.refusedUntil.delete(oldest);
    }
    this.refusedUntil.delete(ip);
    const until = Date.now() + Math.max(1, retry) * 1000;
    this.refusedUntil.set(ip, until);
    this.lastUntil = Math.max(this.lastUntil, until);
  }
}
