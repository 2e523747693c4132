/**
 * PostgreSQL through `postgres` (porsager): prepared statements, pipelining, a bounded pool. int8
 * columns (cents, sequences, outbox ids) come back as numbers: every value the platform stores in them
 * stays far below 2^53.
 */
import postgres from 'postgres';
import { PlatformErrorCodes } from '../error-codes';

export type Sql = postgres.Sql<Record<string, never>>;
export type { TransactionSql } from 'postgres';

export interface PostgresOptions {
  url: string;
  /** Pool size. */
  max?: number;
  applicationName: string;
  /** Seconds an idle connection is kept. */
  idleTimeoutSeconds?: number;
  connectTimeoutSeconds?: number;
  /** Statement timeout in milliseconds (0 = none): a stuck query fails instead of holding a connection. */
  statementTimeoutMs?: number;
  /**
   * Milliseconds a query may wait for a connection before it is cancelled (0 = no bound). postgres.js
   * keeps a query queued while it reconnects, for as long as that takes: behind a TCP proxy or load
   * balancer that accepts and then drops connections while the database is down, a request would hang
   * until its client gave up. Bounded, it fails with 57014 (a 503 for the caller) and is never sent.
   * Applies to single statements (`sql\`…\``); `sql.begin` is refused at once while the circuit is open
   * but not bounded otherwise (a transaction waiting for its connection cannot be taken out of the queue).
   */
  queueTimeoutMs?: number;
}

/**
 * Fails fast while the database is known to be unreachable. Once a query failed as unreachable, queries
 * fail at once (`DATABASE_CIRCUIT_OPEN`) instead of each waiting out the queueing bound, except one at a
 * time, which goes through to find out: its success closes the circuit, its failure keeps it open. Under
 * load during an outage, requests otherwise queued behind each other's bound (3 s each) answered in 5 s
 * and more; now in milliseconds.
 */
class Circuit {
  private open = false;
  /** The probe in flight (0: none); a probe stuck past the bound (sent into a partition) gives way. */
  private probe = 0;
  private probes = 0;

  /** Whether a query may go to the database now (when open, only one at a time: the probe's number). */
  admit(): number | 'pass' | 'refuse' {
    if (!this.open) return 'pass';
    if (this.probe !== 0) return 'refuse';
    this.probe = ++this.probes;
    return this.probe;
  }

  /** Whether the database failed as unreachable and no probe has succeeded since. */
  get isOpen(): boolean {
    return this.open;
  }

  /** The bound passed with the probe still unanswered: let the next query probe. */
  giveUp(probe: number): void {
    if (this.probe === probe) this.probe = 0;
  }

  settled(kind: number | 'pass', err: unknown): void {
    if (typeof kind === 'number') this.giveUp(kind);
    if (err === undefined) this.open = false;
    else if (isDatabaseUnavailable(err)) this.open = true;
  }
}

function circuitOpen(): Error {
  return Object.assign(new Error('the database was unreachable a moment ago; not trying again before it answers a probe'), {
    code: PlatformErrorCodes.databaseCircuitOpen,
  });
}

/**
 * Cancels each tagged-template query still waiting for a connection after `ms` (postgres.js removes a
 * query that was not sent from its queue and rejects it with 57014), and refuses queries at once while
 * the circuit is open. Queries run when first awaited, so both start at `then`. `sql.begin` is refused
 * while the circuit is open; helper calls (`sql(values)`, `sql.unsafe`) pass through.
 */
function boundQueueing(sql: Sql, ms: number): Sql {
  const circuit = new Circuit();
  type Armed = { cancel?: () => unknown; state?: unknown };
  /** Queries not settled yet, with when their bound passes: in that order, since the bound is fixed. */
  const waiting = new Map<Armed, { deadline: number; kind: number | 'pass' }>();
  let sweeper: ReturnType<typeof setInterval> | undefined;
  // One timer for all queries, not one each: a query is cancelled between the bound and a quarter second later.
  const sweep = () => {
    const now = Date.now();
    for (const [q, w] of waiting) {
      if (w.deadline > now) break;
      waiting.delete(q);
      if (!q.state) q.cancel?.();
      else if (typeof w.kind === 'number') circuit.giveUp(w.kind);
    }
    if (waiting.size === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  return new Proxy(sql, {
    // A transaction cannot be cancelled while it waits for its connection, but while the circuit is open it
    // is not started at all: it fails at once like a statement would (single statements probe for it).
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== 'begin' || typeof value !== 'function') return value;
      return (...args: unknown[]) => (circuit.isOpen ? Promise.reject(circuitOpen()) : Reflect.apply(value, target, args));
    },
    apply(target, thisArg, args: unknown[]) {
      const q = Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args) as Armed & {
        then?: (ok?: (v: unknown) => unknown, fail?: (e: unknown) => unknown) => Promise<unknown>;
      };
      const tagged = Array.isArray(args[0]) && 'raw' in (args[0] as object);
      if (!tagged || typeof q?.then !== 'function' || typeof q.cancel !== 'function') return q;
      const then = q.then.bind(q);
      let armed = false;
      let refused: Promise<never> | undefined;
      // biome-ignore lint/suspicious/noThenProperty: a postgres.js query runs when first awaited; the bound starts there.
      q.then = (ok, fail) => {
        if (!armed) {
          armed = true;
          const kind = circuit.admit();
          if (kind === 'refuse') refused = Promise.reject(circuitOpen());
          else {
            waiting.set(q, { deadline: Date.now() + ms, kind });
            sweeper ??= setInterval(sweep, Math.min(250, ms));
            then(
              () => {
                waiting.delete(q);
                circuit.settled(kind, undefined);
              },
              (err: unknown) => {
                waiting.delete(q);
                circuit.settled(kind, err);
              },
            );
          }
        }
        return refused ? refused.then(ok, fail) : then(ok, fail);
      };
      return q;
    },
  }) as Sql;
}

export function createPostgres(opts: PostgresOptions): Sql {
  const sql = postgres(opts.url, {
    max: opts.max ?? 10,
    idle_timeout: opts.idleTimeoutSeconds ?? 30,
    connect_timeout: opts.connectTimeoutSeconds ?? 5,
    // Seconds before reconnecting after the n-th failure in a row: postgres.js grows it to 20 s (3^n/100), so
    // after a few seconds of outage the pool came back up to 7 s after PostgreSQL did (the fault suite's
    // "crash PostgreSQL": 6–10 s to recover). Capped at 1 s, with the same jitter.
    backoff: (n: number) => (0.5 + Math.random() / 2) * Math.min(3 ** n / 100, 1),
    prepare: true,
    onnotice: () => {},
    connection: {
      application_name: opts.applicationName,
      ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
    },
    types: {
      int8: {
        to: 20,
        from: [20],
        serialize: (x: number | bigint) => x.toString(),
        parse: (x: string) => {
          const n = Number(x);
          if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${x} is beyond 2^53`);
          return n;
        },
      },
    },
  }) as unknown as Sql;
  return opts.queueTimeoutMs ? boundQueueing(sql, opts.queueTimeoutMs) : sql;
}

/** SQLSTATE codes the platform reacts to. */
export const PgErrorCodes = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  lockNotAvailable: '55P03',
  queryCanceled: '57014',
} as const;

export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** Client-side codes (postgres.js and the socket) for a database that cannot be reached. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  PlatformErrorCodes.databaseCircuitOpen,
]);

/**
 * Whether an error means the database is unavailable (down, restarting, unreachable, out of
 * connections, or a statement that ran out of time), as opposed to a bug or bad data: the request may
 * be tried again later. A transaction is never half-applied, but one whose connection was lost during
 * COMMIT may have committed: retries of writes carry their idempotency key.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = pgErrorCode(err);
  if (code === undefined) return false;
  // SQLSTATE class 08: connection exceptions; 57P01–57P03: shutting down, crashed, starting up;
  // 53300: too many connections; 57014: cancelled (the statement timeout).
  return (
    UNREACHABLE.has(code) || code.startsWith('08') || /^57P0[1-3]$/.test(code) || code === '53300' || code === PgErrorCodes.queryCanceled
  );
}
