/**
 * Rate-limit response fields: the classic `X-RateLimit-*` trio and the IETF httpapi draft fields
 * (`RateLimit-Policy: "name";q=limit;w=window`, `RateLimit: "name";r=remaining;t=reset`), both describing
 * the binding limit (the draft allows listing every policy; we list all policies and the binding state).
 * `Retry-After` accompanies a refusal.
 */
import type { Decision } from './limiter';

const quote = (s: string) => `"${s.replace(/["\\\\]/g, '')}"`;

/** The policy field only depends on which limits apply: built once per combination. */
const policies = new Map<string, string>();

function policyField(d: Decision): string {
  let key = '';
  for (const s of d.states) key += `${s.name}|${s.limit}|${s.windowMs};`;
  let field = policies.get(key);
  if (field === undefined) {
    field = d.states.map((s) => `${quote(s.name)};q=${s.limit};w=${Math.round(s.windowMs / 1000)}`).join(', ');
    if (policies.size > 10_000) policies.clear();
    policies.set(key, field);
  }
  return field;
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
