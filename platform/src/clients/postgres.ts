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
