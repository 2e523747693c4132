/**
 * Rate-limit response fields: the classic `X-RateLimit-*` trio and the IETF httpapi draft fields
 * (`RateLimit-Policy: "name";q=limit;w=window`, `RateLimit: "name";r=remaining;t=reset`), both describing
 * the binding limit (the draft allows listing every policy; we list all policies and the binding state).
 * `Retry-After` accompanies a refusal.
 */
import type { Decision } from './decision';

const quote = (s: string) => `"${s.replace(/["\\\\]/g, '')}"`;

function policyField(d: Decision): string {
  return d.states.map((s) => `${quote(s.name)};q=${s.limit};w=${Math.round(s.windowMs / 1000)}`).join(', ');
}

export function rateLimitHeaders(d: Decision): Record<string, string> {
  const b = d.binding;
  if (!b) return {};
  const resetSeconds = Math.max(0, Math.ceil(b.resetMs / 1000));
  const headers: Record<string, string> = {
    'x-ratelimit-limit': String(b.limit),
    'x-ratelimit-remaining': String(b.remaining),
    'x-ratelimit-reset': String(resetSeconds),
    'ratelimit-policy': policyField(d),
    ratelimit: `${quote(b.name)};r=${b.remaining};t=${resetSeconds}`,
  };
  if (!d.allowed) headers['retry-after'] = String(Math.max(1, resetSeconds));
  return headers;
}
