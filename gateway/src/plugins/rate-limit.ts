/**
 * Rate limiting for the gateway: which limits apply to a request, who the subject is, and what the
 * answer looks like. Authenticated requests are limited per user (their tier, and the endpoint's limit
 * when it has one); anonymous ones per client IP; login per IP and per account, failing closed when
 * the limiter cannot reach Redis. Every limited response carries the X-RateLimit-* and IETF RateLimit
 * fields; a refusal is 429 with Retry-After and a problem naming the limit.
 *
 * The client IP is the socket's peer, unless that peer is a configured trusted proxy: then the
 * right-most X-Forwarded-For address that is not itself a trusted proxy.
 */
import { BlockList, isIP } from 'node:net';
import {
  type Decision,
  HttpError,
  type LimitCheck,
  type Principal,
  type RateLimiter,
  type RateLimitPolicy,
  RateLimitUnavailable,
  rateLimitHeaders,
} from '@orders/platform';

export interface Limits {
  limiter: RateLimiter;
  policy: RateLimitPolicy;
  trustedProxies: TrustedProxies;
}

/**
 * The proxies whose X-Forwarded-For is believed: addresses and CIDR ranges (a Kubernetes ingress's pod
 * range, a compose network), IPv4 and IPv6; an IPv4-mapped IPv6 peer is judged as IPv4.
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const [address, prefix] = e.split('/') as [string, string | undefined];
      const family = isIP(address);
      const bits = family === 4 ? 32 : 128;
      if (family === 0 || (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits)))
        throw new Error(`not an IP address or CIDR range: ${e}`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (prefix === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, Number(prefix), type);
    }
    this.size = entries.length;
  }

  has(ip: string): boolean {
    if (this.size === 0) return false;
    const plain = ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    const family = isIP(plain);
    return family !== 0 && this.list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }
}

type Headers = Record<string, string | number | undefined>;

/** `METHOD /route/template` as the policy names endpoints (no trailing slash). */
export function endpointOf(method: string, route: string): string {
  return `${method} ${route.length > 1 ? route.replace(/\/$/, '') : route}`;
}

export function clientIp(request: Request, peer: string | undefined, trusted: { has(ip: string): boolean }): string {
  // No socket means the request was handed to the app in-process (tests): it came from this host.
  const socket = peer ?? '127.0.0.1';
  if (!trusted.has(socket)) return socket;
  const forwarded = (request.headers.get('x-forwarded-for') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (let i = forwarded.length - 1; i >= 0; i--) {
    const hop = forwarded[i] as string;
    if (!trusted.has(hop)) return hop;
  }
  return socket;
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

/** An authenticated request: the user's tier limit and, when it has one, the endpoint's. */
export function limitUser(limits: Limits, principal: Principal, method: string, route: string, headers: Headers): Promise<void> {
  const checks: LimitCheck[] = [];
  const tier = limits.policy.tiers[principal.tier];
  if (tier) checks.push({ name: `tier:${principal.tier}`, rule: tier });
  const endpoint = endpointOf(method, route);
  const rule = limits.policy.endpoints[endpoint];
  if (rule) checks.push({ name: endpoint, rule });
  return enforce(limits, `u:${principal.userId}`, checks, headers);
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
