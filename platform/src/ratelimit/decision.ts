/** What the limiter is asked (a request's limits) and what it answers (the decision, per limit). */
import type { Rule } from './config';

export interface LimitCheck {
  /** Names the limit in headers and problems: `tier:free`, `POST /api/v1/orders`, `ip`, `login:account`. */
  name: string;
  rule: Rule;
}

export interface LimitState {
  name: string;
  limit: number;
  windowMs: number;
  remaining: number;
  /** Milliseconds until a slot frees up. */
  resetMs: number;
}

export interface Decision {
  allowed: boolean;
  /** The limit that refused, or the one closest to refusing. */
  binding: LimitState | undefined;
  states: LimitState[];
  /** Decided without Redis (fallback or fail-closed). */
  degraded: boolean;
  /** The clock reading the decision was taken at (Redis time, or local time when degraded). */
  at: number;
}
