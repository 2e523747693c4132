/**
 * PostgreSQL through `postgres` (porsager): prepared statements, pipelining, a bounded pool. int8
 * columns (cents, sequences, outbox ids) come back as numbers: every value the platform stores in them
 * stays far below 2^53.
 */
import postgres from 'postgres';

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
}

export function createPostgres(opts: PostgresOptions): Sql {
  return postgres(opts.url, {
    max: opts.max ?? 10,
    idle_timeout: opts.idleTimeoutSeconds ?? 30,
    connect_timeout: opts.connectTimeoutSeconds ?? 5,
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
