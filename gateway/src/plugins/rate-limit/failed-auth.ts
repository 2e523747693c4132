/**
 * Requests that do not authenticate (no token, a malformed, invalid, expired or revoked one) count
 * against their address, with the per-IP limit's rule in a bucket of their own (anonymous browsing from
 * the same address does not use it up). An address over it is then refused from memory until its window
 * lets it in again, before its next token is even verified: an ES256 verification is the most expensive
 * thing an anonymous caller can make the gateway do, and 1,200 bad tokens from one address were 1,200
 * verifications. Each gateway instance learns an address's refusal from its own count.
 */
import { HttpError } from '@orders/platform';
import { GatewayErrorCodes } from '../../error-codes';
import { enforce, type Headers, type Limits } from './index';

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
      GatewayErrorCodes.rateLimited,
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
