/**
 * Parent ↔ client-process messages of ws-storm: one JSON object per line, commands on the worker's
 * stdin, reports on its stdout (its stderr is for diagnostics only). Plain pipes rather than a runtime's
 * own IPC channel, so the parent may run on Node or Bun while the workers run on Bun.
 */

/**
 * How a socket reconnects: the tracking page's policy (gateway/src/modules/tracking/page/feed.ts), so the
 * wave is what the platform's own clients do. After the n-th failure in a row:
 * delay = floor + random · min(capMs, baseMs · 2^min(n, 6)), floor = random · restartSpreadMs after a
 * 1012 (a draining edge closes everyone at once), rateLimitedFloorMs after a 4429, else 0.
 */
export interface Backoff {
  baseMs: number;
  capMs: number;
  restartSpreadMs: number;
  rateLimitedFloorMs: number;
}

export const PAGE_BACKOFF: Backoff = { baseMs: 250, capMs: 10_000, restartSpreadMs: 2_000, rateLimitedFloorMs: 5_000 };

export type WorkerCommand =
  | {
      type: 'init';
      worker: number;
      /** The edges' `/ws/orders` URLs; sockets name theirs by index. */
      edges: string[];
      /** The access token of each of this worker's users (index = the worker's user index). */
      tokens: string[];
      /** Per socket: [user index in `tokens`, edge index]. */
      sockets: [number, number][];
      /** Handshakes in flight at most while the sockets first open (reconnections are not held back). */
      concurrency: number;
      /** A handshake not answered by `ready` within this time is abandoned and retried. */
      handshakeTimeoutMs: number;
      backoff: Backoff;
    }
  /** Open every socket. */
  | { type: 'connect' }
  /** Fresh tokens (same users, same order): sent as `auth` frames on open sockets, used for every later handshake. */
  | { type: 'tokens'; tokens: string[]; spreadMs: number }
  /** From now on, sockets that drop are counted as the reconnect wave's. */
  | { type: 'wave' }
  /** The last sequence published per user (same order as `tokens`): count what each socket is missing. */
  | { type: 'check'; last: number[] }
  /** Close every socket (1000) and exit. */
  | { type: 'stop' };

export interface WorkerTick {
  type: 'tick';
  worker: number;
  pid: number;
  /** Epoch milliseconds. */
  at: number;
  sockets: number;
  open: number;
  connecting: number;
  delivered: number;
  replayed: number;
  /** Deliveries (live and replayed) per edge, by the edge's index in `init.edges`. */
  deliveredByEdge: number[];
  repeats: number;
  errors: number;
  resumed: number;
  resync: number;
  attempts: number;
  /** Reconnection handshakes that failed (their edge still down) and were retried after a backoff. */
  retries: number;
  refreshed: number;
  closes: Record<string, number>;
  errorKinds: Record<string, number>;
  /** Encoded histograms (stats.ts) of this tick's live and replayed deliveries, µs. */
  live: string;
  replay: string;
  rssBytes: number;
  cpuMicros: number;
  /** The longest the process's event loop was late in this tick (a 100 ms timer's drift): the load generator's own saturation. */
  loopLagMs: number;
  wave: { dropped: number; reopened: number; resumed: number; resync: number; lastReopenAt: number; lastDoneAt: number };
}

export interface WorkerCheck {
  type: 'checked';
  worker: number;
  /** Open sockets whose every update since they first connected could be verified. */
  checked: number;
  /** Updates published to a checked socket's user that it never received. */
  lost: number;
  socketsWithLoss: number;
  /** Sockets excluded: the edge answered `resync` (a real client re-reads through REST). */
  resynced: number;
  /** Sockets not open (or still resuming) at the check. */
  notOpen: number;
  /** Received twice (harmless: a replay overlapping live updates). */
  repeats: number;
}

export type WorkerReport =
  | { type: 'hello'; worker: number; pid: number; fdLimit: number }
  | WorkerTick
  | WorkerCheck
  | { type: 'stopped'; worker: number }
  | { type: 'fatal'; worker: number; message: string };
