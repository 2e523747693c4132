/**
 * Rate-limit policy: the defaults of the design, a per-stage JSON file on top (RATE_LIMITS_FILE), and
 * environment overrides on top of that (`RATE_LIMIT_TIER_FREE=50/60s`, `RATE_LIMIT_IP=200/1m`,
 * `RATE_LIMIT_ENDPOINT_POST_API_V1_ORDERS=20/1m`, …). Everything is validated at start-up; a bad value
 * stops the process with a message naming it.
 */
import { readFileSync } from 'node:fs';
import { TIERS, type Tier } from '../auth/jwt';
import { ConfigError } from '../config/env';

export interface Rule {
  /** Requests allowed per window. */
  limit: number;
  windowMs: number;
}

export type Algorithm = 'log' | 'window';

export interface RateLimitPolicy {
  /**
   * `log`: exact sliding log (a sorted set of request times per key): no request is ever refused while
   * fewer than `limit` were admitted in the last window, and none is admitted beyond it.
   * `window`: weighted two-window counter (INCR per fixed window, the previous one weighted by overlap):
   * constant memory, approximate near the boundary. See the accuracy run in the README.
   */
  algorithm: Algorithm;
  /** Per user, by tier; null = unlimited. */
  tiers: Record<Tier, Rule | null>;
  /** Per client IP, for requests without a token. */
  ip: Rule;
  /** Per user (or per IP when anonymous), by `METHOD /route/template`. */
  endpoints: Record<string, Rule>;
  login: { perAccount: Rule; perIp: Rule };
  websocket: { connectionsPerUser: number; messagesPerSecond: number; slotTtlMs: number };
}

const MIN = 60_000;

const DEFAULT_POLICY: RateLimitPolicy = {
  algorithm: 'log',
  tiers: {
    free: { limit: 50, windowMs: MIN },
    standard: { limit: 100, windowMs: MIN },
    premium: { limit: 500, windowMs: MIN },
    enterprise: null,
  },
  ip: { limit: 200, windowMs: MIN },
  endpoints: {
    'POST /api/v1/orders': { limit: 20, windowMs: MIN },
    'GET /api/v1/orders': { limit: 100, windowMs: MIN },
    'POST /api/v1/webhooks': { limit: 10, windowMs: 60 * MIN },
  },
  login: { perAccount: { limit: 10, windowMs: 15 * MIN }, perIp: { limit: 50, windowMs: 15 * MIN } },
  websocket: { connectionsPerUser: 5, messagesPerSecond: 10, slotTtlMs: 60_000 },
};

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: MIN, h: 60 * MIN };

/** `50/60s`, `200/1m`, `10/1h`, `unlimited` → a rule (or null). */
export function parseRule(text: string): Rule | null {
  const t = text.trim();
  if (t === 'unlimited') return null;
  const m = /^(\d{1,9})\/(\d{1,9})(ms|s|m|h)$/.exec(t);
  if (!m) throw new Error(`"${text}" is not a rule like 100/60s, 20/1m, 10/1h or unlimited`);
  return checkRule(Number(m[1]), Number(m[2]) * (UNITS[m[3] as string] as number), `"${text}"`);
}

/** The bounds every rule keeps, whichever way it was written. */
function checkRule(limit: number, windowMs: number, what: string): Rule {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`${what}: the limit must be an integer of at least 1`);
  if (!Number.isInteger(windowMs) || windowMs < 1000 || windowMs > 24 * 60 * MIN)
    throw new Error(`${what}: the window must be between 1 s and 24 h`);
  return { limit, windowMs };
}

function ruleFrom(value: unknown, where: string, problems: string[]): Rule | null | undefined {
  if (value === null || value === 'unlimited') return null;
  try {
    if (typeof value === 'string') return parseRule(value);
    const r = (value ?? {}) as Partial<Rule> & { windowSeconds?: number };
    const windowMs = r.windowMs ?? (r.windowSeconds !== undefined ? r.windowSeconds * 1000 : Number.NaN);
    return checkRule(Number(r.limit), windowMs, 'expected {"limit", "windowSeconds"} or a string like "100/60s"');
  } catch (err) {
    problems.push(`${where}: ${(err as Error).message}`);
    return undefined;
  }
}

/** `POST /api/v1/orders` → `POST_API_V1_ORDERS` (the env var suffix: each run of other characters is one `_`). */
function endpointEnvName(endpoint: string): string {
  return endpoint.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}

export function loadRateLimitPolicy(env: Record<string, string | undefined>): RateLimitPolicy {
  const problems: string[] = [];
  const policy: RateLimitPolicy = structuredClone(DEFAULT_POLICY);
  const file = env.RATE_LIMITS_FILE;
  if (file) {
    let doc: Record<string, unknown> = {};
    try {
      doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      problems.push(`RATE_LIMITS_FILE ${file} cannot be read as JSON (${(err as Error).message})`);
    }
    if (doc.algorithm !== undefined) {
      if (doc.algorithm === 'log' || doc.algorithm === 'window') policy.algorithm = doc.algorithm;
      else problems.push(`${file}: algorithm must be "log" or "window"`);
    }
    for (const [tier, value] of Object.entries((doc.tiers ?? {}) as Record<string, unknown>)) {
      if (!TIERS.includes(tier as Tier)) problems.push(`${file}: unknown tier "${tier}" (known: ${TIERS.join(', ')})`);
      else {
        const r = ruleFrom(value, `${file} tiers.${tier}`, problems);
        if (r !== undefined) policy.tiers[tier as Tier] = r;
      }
    }
    if (doc.ip !== undefined) {
      const r = ruleFrom(doc.ip, `${file} ip`, problems);
      if (r) policy.ip = r;
      else if (r === null) problems.push(`${file} ip: the per-IP limit cannot be unlimited`);
    }
    for (const [endpoint, value] of Object.entries((doc.endpoints ?? {}) as Record<string, unknown>)) {
      if (!/^(GET|POST|PUT|PATCH|DELETE) \/\S*$/.test(endpoint))
        problems.push(`${file}: endpoint "${endpoint}" must look like "POST /api/v1/orders"`);
      const r = ruleFrom(value, `${file} endpoints["${endpoint}"]`, problems);
      if (r) policy.endpoints[endpoint] = r;
      else if (r === null) delete policy.endpoints[endpoint];
    }
    const login = (doc.login ?? {}) as Record<string, unknown>;
    for (const k of ['perAccount', 'perIp'] as const) {
      if (login[k] === undefined) continue;
      const r = ruleFrom(login[k], `${file} login.${k}`, problems);
      if (r) policy.login[k] = r;
      else if (r === null) problems.push(`${file} login.${k}: login limits cannot be unlimited`);
    }
    const ws = (doc.websocket ?? {}) as Record<string, unknown>;
    for (const k of ['connectionsPerUser', 'messagesPerSecond', 'slotTtlMs'] as const) {
      if (ws[k] === undefined) continue;
      if (!Number.isInteger(ws[k]) || (ws[k] as number) < 1) problems.push(`${file} websocket.${k} must be a positive integer`);
      else policy.websocket[k] = ws[k] as number;
    }
  }
  const override = (name: string, apply: (r: Rule | null) => void, allowUnlimited = true) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return;
    try {
      const r = parseRule(raw);
      if (r === null && !allowUnlimited) throw new Error('cannot be unlimited');
      apply(r);
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
    }
  };
  if (env.RATE_LIMIT_ALGORITHM) {
    if (env.RATE_LIMIT_ALGORITHM === 'log' || env.RATE_LIMIT_ALGORITHM === 'window') policy.algorithm = env.RATE_LIMIT_ALGORITHM;
    else problems.push(`RATE_LIMIT_ALGORITHM must be "log" or "window" (got "${env.RATE_LIMIT_ALGORITHM}")`);
  }
  for (const tier of TIERS) override(`RATE_LIMIT_TIER_${tier.toUpperCase()}`, (r) => (policy.tiers[tier] = r));
  override('RATE_LIMIT_IP', (r) => (policy.ip = r as Rule), false);
  override('RATE_LIMIT_LOGIN_ACCOUNT', (r) => (policy.login.perAccount = r as Rule), false);
  override('RATE_LIMIT_LOGIN_IP', (r) => (policy.login.perIp = r as Rule), false);
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('RATE_LIMIT_ENDPOINT_') || raw === undefined) continue;
    const suffix = name.slice('RATE_LIMIT_ENDPOINT_'.length);
    const endpoint = Object.keys(policy.endpoints).find((e) => endpointEnvName(e) === suffix);
    if (!endpoint) {
      problems.push(
        `${name}: no endpoint policy matches (known: ${Object.keys(policy.endpoints)
          .map((e) => `RATE_LIMIT_ENDPOINT_${endpointEnvName(e)}`)
          .join(', ')})`,
      );
      continue;
    }
    override(name, (r) => {
      if (r) policy.endpoints[endpoint] = r;
      else delete policy.endpoints[endpoint];
    });
  }
  for (const [name, key] of [
    ['RATE_LIMIT_WS_CONNECTIONS_PER_USER', 'connectionsPerUser'],
    ['RATE_LIMIT_WS_MESSAGES_PER_SECOND', 'messagesPerSecond'],
    ['RATE_LIMIT_WS_SLOT_TTL_MS', 'slotTtlMs'],
  ] as const) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) problems.push(`${name} must be a positive integer (got "${raw}")`);
    else policy.websocket[key] = n;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return policy;
}
