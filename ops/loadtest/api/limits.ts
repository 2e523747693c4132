/**
 * The target's rate limits as it announces them (`RateLimit-Policy: "tier:premium";q=500;w=60, …` on
 * every limited answer), and the size of a user pool that keeps a mix of requests under every one of
 * them with room to spare: realistic users are not refused, so a 429 in a steady run means something.
 */

export interface Policy {
  name: string;
  limit: number;
  windowS: number;
}

/** `"tier:premium";q=500;w=60, "GET /api/v1/orders";q=100;w=60` → the policies. */
export function parsePolicies(header: string | null | undefined): Policy[] {
  if (!header) return [];
  const out: Policy[] = [];
  for (const m of header.matchAll(/"([^"]*)";q=(\d+);w=(\d+)/g)) {
    out.push({ name: m[1] as string, limit: Number(m[2]), windowS: Number(m[3]) });
  }
  return out;
}

/**
 * Users needed so that each limit sees at most `headroom` of its budget: for every policy, the rate of
 * the request classes it applies to × its window ÷ (limit × headroom). `policiesByClass` is what a probe
 * of each class answered; `rates` the classes' requests per second at the peak.
 */
export function usersNeeded(rates: Record<string, number>, policiesByClass: Record<string, Policy[]>, headroom = 0.5): number {
  const load = new Map<string, { policy: Policy; rate: number }>();
  for (const [cls, policies] of Object.entries(policiesByClass)) {
    for (const p of policies) {
      const entry = load.get(p.name) ?? { policy: p, rate: 0 };
      entry.rate += rates[cls] ?? 0;
      load.set(p.name, entry);
    }
  }
  let users = 1;
  for (const { policy, rate } of load.values()) users = Math.max(users, Math.ceil((rate * policy.windowS) / (policy.limit * headroom)));
  return users;
}

/** The smallest limit among `policies` (the one that binds first), or null. */
export function tightest(policies: Policy[]): Policy | null {
  return policies.reduce<Policy | null>((min, p) => (min === null || p.limit / p.windowS < min.limit / min.windowS ? p : min), null);
}
