/**
 * Keys Redis found over their limit, refused from memory until their oldest counted request leaves the
 * window: with the exact log nothing can free a slot before that (refusals are not recorded, admissions
 * only add), so the local answer is the one Redis would give, and a client hammering past its limit
 * costs no Redis work at all. The moment is taken from this process's clock at the time the batch was
 * sent (before Redis decided), so it can only end early, never late.
 */
import type { Algorithm } from './config';
import type { Decision, LimitCheck, LimitState } from './decision';

/** Keys remembered as refused; the oldest entry goes first beyond this. */
const MAX_REFUSED_KEYS = 50_000;

export class RefusalCache {
  /** Keys refused by Redis, with the local time until which they stay refused. */
  private readonly refusedUntil = new Map<string, number>();

  constructor(private readonly algorithm: Algorithm) {}

  /**
   * The decision for a request one of whose keys is still refused: the same answer Redis would give
   * (that key full until its oldest entry leaves the window), without asking it.
   */
  knownRefusal(keys: string[], checks: LimitCheck[]): (Decision & { binding: LimitState }) | undefined {
    if (this.refusedUntil.size === 0) return undefined;
    const now = Date.now();
    for (const [i, key] of keys.entries()) {
      const until = this.refusedUntil.get(key);
      if (until === undefined) continue;
      if (until <= now) {
        this.refusedUntil.delete(key);
        continue;
      }
      const check = checks[i] as LimitCheck;
      const binding: LimitState = {
        name: check.name,
        limit: check.rule.limit,
        windowMs: check.rule.windowMs,
        remaining: 0,
        resetMs: until - now,
      };
      // The other limits were not consulted: their states say nothing beyond their rule.
      const states = checks.map((c, j) =>
        j === i
          ? binding
          : { name: c.name, limit: c.rule.limit, windowMs: c.rule.windowMs, remaining: c.rule.limit, resetMs: c.rule.windowMs },
      );
      return { allowed: false, binding, states, degraded: false, at: now };
    }
    return undefined;
  }

  /** With the exact log, a full key stays full until its oldest entry leaves the window (see above). */
  rememberRefusal(keys: string[], raw: number[], sentAt: number): void {
    if (this.algorithm !== 'log') return;
    const binding = Number(raw[2]) - 1;
    const key = keys[binding];
    const reset = Number(raw[4 + 2 * binding]);
    if (key === undefined || !(reset > 0)) return;
    if (this.refusedUntil.size >= MAX_REFUSED_KEYS) {
      const oldest = this.refusedUntil.keys().next().value;
      if (oldest !== undefined) this.refusedUntil.delete(oldest);
    }
    this.refusedUntil.delete(key);
    this.refusedUntil.set(key, sentAt + reset);
  }
}
