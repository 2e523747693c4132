/**
 * What a ws-storm run is asked (`WsStormOptions`) and what it works out before anything starts (`planRun`):
 * the caps, users, client processes, edges, the target's namespace and Redis; and how sockets and users
 * are shared out (`assign`). Pure but for reading this process's open-files limit.
 */
import { readFileSync } from 'node:fs';
import { stackConfig, stackUrls } from '../../local/config.mjs';
import { isLoopback } from './edges';

export interface WsStormOptions {
  /** The gateway (dev-token minting; also tells whether the target is local). */
  gatewayUrl: string;
  /**
   * A local target's tokens are signed with the local stack's key (default) instead of minted one by one
   * through the rate-limited dev-token route; false mints them (the test suite does, to use the route).
   */
  signLocally?: boolean;
  /** The edges' `ws://…/ws/orders` URLs, used as they are; a local target gets extra edges up to `minEdges`. */
  wsUrls: string[];
  connections: number;
  /** Status updates published per second during the steady phase and the wave. */
  publishRate: number;
  durationS: number;
  reconnectWave: boolean;
  /** A few hundred sockets, 2 edges, a few seconds (npm test). */
  short: boolean;
  /** Tokens of dedicated load-test users (targets without the dev-token route); see tokens.ts for the format. */
  tokensFile?: string;
  /** The target's NAMESPACE (feed channel and keys). Default for a local target: by the gateway's port (dev: '', test: 'test'). */
  namespace?: string;
  /** The target's Redis, where updates are published. Default for a local target: the local stack's. */
  redisUrl?: string;
  redisClusterNodes?: string[];
  /** The target's DEPLOY_STAGE, for the edges this run starts (default: by the gateway's port). */
  stage?: 'dev' | 'test';
  /** Sockets per user (default and maximum 5: the edge's per-user limit across edges). */
  socketsPerUser?: number;
  /** Client processes (default: at least 3, more when one would pass its open-files limit). */
  clientProcesses?: number;
  /** Edges in the run (local target: started up to this many; default 3, 2 when short). */
  minEdges?: number;
  /** Start extra local edges (default true for a local target). */
  startEdges?: boolean;
  /** Extra environment for the edges this run starts. */
  edgeEnv?: Record<string, string>;
  /** Restarts one of the caller's edges for the wave (SIGTERM, then start it again); else an edge this run started is. */
  restartEdge?: (url: string) => Promise<void>;
  /** First-connection handshakes in flight per client process (default 128). */
  connectConcurrency?: number;
  /** Time to get every socket open (default: 20 s short, else 60 s + 1 s per 400 sockets). */
  connectTimeoutS?: number;
  /** Time for the wave to reopen and resume every dropped socket (default 30 s short, else 120 s). */
  waveTimeoutS?: number;
  /**
   * Dev-token runs refresh every user's token this long before the first one expires (default 180 s):
   * minted again (same users), sent as an `auth` frame on each open socket and used for every later
   * handshake. A tokens file cannot be refreshed: the run must end before its first token expires.
   */
  tokenRefreshLeadS?: number;
  /** Load-test users are `<prefix>-<i>@loadtest.example.com` (default: a new prefix per run). */
  userPrefix?: string;
  signal?: AbortSignal;
  /** Stop the run cleanly on SIGINT/SIGTERM (default true). */
  handleSignals?: boolean;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** Hard caps: a typo cannot start a million sockets or a day-long run. */
export const LIMITS = {
  maxConnections: 200_000,
  maxDurationS: 1_800,
  maxPublishRate: 20_000,
  maxClientProcesses: 16,
  maxStartedEdges: 8,
  /** Sockets per client process at most (each is a descriptor; the rest of the limit is headroom). */
  socketsPerProcess: 15_000,
  short: { connections: 500, durationS: 5, edges: 2 },
} as const;

/** The edge's connection limit per user, across edges (RATE_LIMIT_WS_CONNECTIONS_PER_USER). */
export const PER_USER_LIMIT = 5;

export interface Plan {
  connections: number;
  durationS: number;
  perUser: number;
  users: number;
  processes: number;
  minEdges: number;
  local: boolean;
  startEdges: boolean;
  namespace: string;
  stage: 'dev' | 'test';
  redisUrl: string;
  connectTimeoutS: number;
  waveTimeoutS: number;
}

/** This process's open-files limit; child processes inherit it. */
export function fdLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const n = Number(line?.split(/\s+/)[3]);
    return Number.isFinite(n) && n > 0 ? n : 1024;
  } catch {
    return 1024;
  }
}

const cfg = stackConfig();

/** Checks the options against the caps and works out users, processes and edges. Throws on anything out of bounds. */
export function planRun(o: WsStormOptions, limit = fdLimit()): Plan {
  const problems: string[] = [];
  const int = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) problems.push(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  };
  int('connections', o.connections, 1, LIMITS.maxConnections);
  int('durationS', o.durationS, 1, LIMITS.maxDurationS);
  if (!(o.publishRate >= 0 && o.publishRate <= LIMITS.maxPublishRate))
    problems.push(`publishRate must be in [0, ${LIMITS.maxPublishRate}], got ${o.publishRate}`);
  const perUser = o.socketsPerUser ?? PER_USER_LIMIT;
  int('socketsPerUser', perUser, 1, PER_USER_LIMIT);
  if (o.wsUrls.length === 0 && !(isLoopback(o.gatewayUrl) && o.startEdges !== false)) problems.push('wsUrls is empty');
  for (const u of o.wsUrls) if (!/^wss?:\/\//.test(u)) problems.push(`not a ws:// or wss:// URL: ${u}`);
  const connections = o.short ? Math.min(o.connections, LIMITS.short.connections) : o.connections;
  const durationS = o.short ? Math.min(o.durationS, LIMITS.short.durationS) : o.durationS;
  const users = Math.ceil(connections / perUser);
  const perProcess = Math.max(1, Math.min(LIMITS.socketsPerProcess, limit - 256));
  const processes = o.clientProcesses ?? Math.max(3, Math.ceil(connections / perProcess));
  int('clientProcesses', processes, 1, LIMITS.maxClientProcesses);
  // A process holds whole users: its share is at most ceil(users / processes) users.
  const heaviest = Math.ceil(users / processes) * perUser;
  if (heaviest > limit - 128)
    problems.push(
      `${heaviest} sockets in one client process would pass its open-files limit (${limit}): use more clientProcesses (at most ${LIMITS.maxClientProcesses})`,
    );
  const local = isLoopback(o.gatewayUrl) && o.wsUrls.every(isLoopback);
  const startEdges = local && o.startEdges !== false;
  // Each local edge holds one descriptor per socket, and inherits this process's limit.
  const perEdge = limit - 1_000;
  const minEdges = o.minEdges ?? (o.short ? LIMITS.short.edges : Math.max(3, Math.ceil(connections / perEdge)));
  int('minEdges', minEdges, 1, LIMITS.maxStartedEdges + o.wsUrls.length);
  if (startEdges && Math.max(0, minEdges - o.wsUrls.length) > LIMITS.maxStartedEdges)
    problems.push(`would start more than ${LIMITS.maxStartedEdges} edges`);
  const gatewayPort = Number(new URL(o.gatewayUrl).port);
  const byPort = local
    ? gatewayPort === cfg.services.gatewayPort
      ? { namespace: '', stage: 'dev' as const }
      : gatewayPort === cfg.testServices.gatewayPort
        ? { namespace: 'test', stage: 'test' as const }
        : undefined
    : undefined;
  const namespace = o.namespace ?? byPort?.namespace;
  if (namespace === undefined) problems.push("namespace is needed for this target (its NAMESPACE: the feed's channel and keys)");
  const redisUrl = o.redisUrl ?? (local ? stackUrls(cfg).REDIS_URL : undefined);
  if (redisUrl === undefined)
    problems.push('redisUrl is needed for a remote target (its Redis: updates are published where the edges subscribe)');
  if (problems.length > 0) throw new Error(`ws-storm: ${problems.join('; ')}`);
  return {
    connections,
    durationS,
    perUser,
    users,
    processes,
    minEdges,
    local,
    startEdges,
    namespace: namespace as string,
    stage: o.stage ?? byPort?.stage ?? 'test',
    redisUrl: redisUrl as string,
    connectTimeoutS: o.connectTimeoutS ?? (o.short ? 20 : 60 + Math.ceil(connections / 400)),
    waveTimeoutS: o.waveTimeoutS ?? (o.short ? 30 : 120),
  };
}

/** The sockets and users each client process gets: user u to process u mod P, socket i of the run to edge i mod E. */
export function assign(plan: Pick<Plan, 'connections' | 'perUser' | 'users' | 'processes'>, edges: number) {
  const perProcess = Array.from({ length: plan.processes }, () => ({ users: [] as number[], sockets: [] as [number, number][] }));
  for (let u = 0; u < plan.users; u++) {
    const p = perProcess[u % plan.processes] as (typeof perProcess)[number];
    const local = p.users.length;
    p.users.push(u);
    for (let k = 0; k < plan.perUser; k++) {
      const i = u * plan.perUser + k;
      if (i >= plan.connections) break;
      p.sockets.push([local, i % edges]);
    }
  }
  return perProcess;
}
