/**
 * The command line of `npm run loadtest -- <scenario> [options]`, parsed and validated before anything
 * is sent: a bad value stops the run with every problem named and exit code 2. Every run is bounded in
 * time (at most 10 minutes), in rate and in sockets, whatever is asked.
 */

export const SCENARIOS = ['steady', 'flash-sale', 'abuse', 'webhook-storm', 'ws-storm'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** The bounds no run may exceed. */
export const LIMITS = { maxDurationS: 600, maxRate: 5_000, maxConnections: 100_000, shortDurationS: 4 } as const;

export interface Args {
  scenario: ScenarioName;
  /** The gateway's base URL, without a trailing slash. */
  target: string;
  /** Whether --target was given (anything else only ever goes to loopback). */
  targetGiven: boolean;
  /** The WebSocket edge(s) for ws-storm, when given. */
  wsTargets: string[];
  durationS: number;
  /** Requests per second (the base rate; ws-storm: messages published per second); null: the scenario's default. */
  rate: number | null;
  /** ws-storm: sockets to open; null: the scenario's default. */
  connections: number | null;
  outDir: string;
  short: boolean;
  /** webhook-storm: the host the target's dispatcher reaches this machine's receivers at. */
  receiverHost: string;
  /** ws-storm: the target's NAMESPACE (its feed's channel and keys), when its port does not tell. */
  namespace: string | null;
  /** How the run's users are made: dev tokens where the target offers them, or always register + login. */
  users: 'auto' | 'register';
}

export class UsageError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export const USAGE = `usage: npm run loadtest -- <scenario> [options]

scenarios: ${SCENARIOS.join(', ')}

options:
  --target URL          the gateway (default: the local \`npm start\` gateway)
  --ws-target URL       a WebSocket edge for ws-storm (repeatable; default: the target's edge)
  --duration TIME       e.g. 30s, 2m (default 30s; --short: ${LIMITS.shortDurationS}s; at most ${LIMITS.maxDurationS / 60}m)
  --rate N              requests per second (flash-sale: the base rate, the sale peaks at 10×;
                        ws-storm: messages published per second); at most ${LIMITS.maxRate}
  --connections N       ws-storm: sockets to open (default 50000; --short: 300)
  --receiver-host HOST  webhook-storm: where the target reaches this machine's receivers (default 127.0.0.1)
  --namespace NAME      ws-storm: the target's NAMESPACE (default: by its port, dev '' or test 'test')
  --users register      make the run's users by register + login even where dev tokens are offered
  --out DIR             where the report folder goes (default: reports/)
  --short               a few seconds at a small scale (what npm test runs)`;

/** `30s`, `2m`, `1m30s`, `45` (seconds) → seconds. */
export function parseDuration(text: string): number | null {
  const m = /^(?:(\d+)m)?(?:(\d+)s?)?$/.exec(text.trim());
  if (!m || (m[1] === undefined && m[2] === undefined)) return null;
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

function parseUrl(text: string, protocols: string[], name: string, problems: string[]): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    problems.push(`${name}: "${text}" is not a URL`);
    return null;
  }
  if (!protocols.includes(url.protocol)) problems.push(`${name}: ${url.protocol} is not one of ${protocols.join(', ')}`);
  else if (url.username || url.password) problems.push(`${name}: credentials do not belong in the URL`);
  else if (url.search || url.hash) problems.push(`${name}: no query or fragment, please`);
  else return url.href.replace(/\/$/, '');
  return null;
}

export interface Defaults {
  target: string;
  outDir: string;
}

export function parseArgs(argv: string[], defaults: Defaults): Args {
  const problems: string[] = [];
  const [scenario, ...rest] = argv;
  if (scenario === undefined || scenario.startsWith('-')) throw new UsageError(['a scenario is required']);
  if (!SCENARIOS.includes(scenario as ScenarioName)) throw new UsageError([`unknown scenario "${scenario}"`]);
  const values = new Map<string, string[]>();
  let short = false;
  const withValue = [
    '--target',
    '--ws-target',
    '--duration',
    '--rate',
    '--connections',
    '--out',
    '--receiver-host',
    '--namespace',
    '--users',
  ];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (name === '--short' && eq < 0) {
      short = true;
      continue;
    }
    if (!withValue.includes(name)) {
      problems.push(`unknown option "${arg}"`);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : rest[++i];
    if (value === undefined || value === '') problems.push(`${name} needs a value`);
    else values.set(name, [...(values.get(name) ?? []), value]);
  }
  for (const [name, list] of values) if (name !== '--ws-target' && list.length > 1) problems.push(`${name} given twice`);
  const one = (name: string) => values.get(name)?.[0];

  const targetGiven = one('--target') !== undefined;
  const target = parseUrl(one('--target') ?? defaults.target, ['http:', 'https:'], '--target', problems) ?? '';
  const wsTargets = (values.get('--ws-target') ?? []).flatMap((u) => parseUrl(u, ['ws:', 'wss:'], '--ws-target', problems) ?? []);
  if (wsTargets.length > 0 && scenario !== 'ws-storm') problems.push('--ws-target is for ws-storm only');

  let durationS = short ? LIMITS.shortDurationS : 30;
  const duration = one('--duration');
  if (duration !== undefined) {
    const d = parseDuration(duration);
    if (d === null) problems.push(`--duration: "${duration}" is not a time like 30s or 2m`);
    else if (d < 1 || d > LIMITS.maxDurationS) problems.push(`--duration must be between 1s and ${LIMITS.maxDurationS / 60}m`);
    else durationS = d;
  }
  const positive = (name: string, max: number): number | null => {
    const raw = one(name);
    if (raw === undefined) return null;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0 || n > max) {
      problems.push(`${name} must be a number above 0 and at most ${max}`);
      return null;
    }
    return n;
  };
  const rate = positive('--rate', LIMITS.maxRate);
  const connections = positive('--connections', LIMITS.maxConnections);
  if (connections !== null && !Number.isInteger(connections)) problems.push('--connections must be a whole number');
  if (connections !== null && scenario !== 'ws-storm') problems.push('--connections is for ws-storm only');
  const receiverHost = one('--receiver-host') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.-]{1,253}$|^\[[0-9a-fA-F:]+\]$/.test(receiverHost)) problems.push('--receiver-host must be a host name or address');
  if (one('--receiver-host') !== undefined && scenario !== 'webhook-storm') problems.push('--receiver-host is for webhook-storm only');

  const namespace = one('--namespace') ?? null;
  if (namespace !== null && !/^[a-z0-9][a-z0-9_-]{0,39}$/.test(namespace)) problems.push('--namespace must be a namespace name like test');
  if (namespace !== null && scenario !== 'ws-storm') problems.push('--namespace is for ws-storm only');

  const users = one('--users') ?? 'auto';
  if (users !== 'auto' && users !== 'register') problems.push('--users must be register (or auto, the default)');

  if (problems.length > 0) throw new UsageError(problems);
  return {
    scenario: scenario as ScenarioName,
    target,
    targetGiven,
    wsTargets,
    durationS,
    rate,
    connections,
    outDir: one('--out') ?? defaults.outDir,
    short,
    receiverHost,
    namespace,
    users: users as Args['users'],
  };
}

export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
