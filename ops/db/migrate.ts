/**
 * Applies the plain SQL files in ops/db/migrations in name order, each in its own transaction, and
 * records them in `schema_migrations` with a checksum. Safe to re-run: applied files are skipped, and
 * a file edited after it was applied is refused (write a new migration instead). A session advisory
 * lock keeps two instances (two gateway replicas starting at once) from migrating concurrently.
 *
 * Every .sql file there must be named `NNNN_lower_case.sql`; any other is refused, not skipped.
 *
 *   bun ops/db/migrate.ts                 uses DATABASE_URL
 *   bun ops/db/migrate.ts --seed dev      also applies ops/db/seeds/dev.sql
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, parseEnv } from '@orders/platform/config/env';
import { databaseSpec } from '@orders/platform/config/fragments';
import postgres from 'postgres';

const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations');
const SEEDS_DIR = join(import.meta.dirname, 'seeds');
const LOCK_KEY = 4_242_001;

export interface MigrateResult {
  applied: string[];
  skipped: number;
}

export async function migrate(url: string, opts: { seed?: string; log?: (line: string) => void } = {}): Promise<MigrateResult> {
  const log = opts.log ?? (() => {});
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await sql`SELECT pg_advisory_lock(${LOCK_KEY})`;
    await sql`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    text PRIMARY KEY,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`;
    const done = new Map(
      (await sql<{ version: string; checksum: string }[]>`SELECT version, checksum FROM schema_migrations`).map((r) => [
        r.version,
        r.checksum,
      ]),
    );
    const files = readdirSync(MIGRATIONS_DIR)
      .filter((f) => f.endsWith('.sql'))
      .sort();
    // A misnamed file would otherwise be skipped without a word, or applied out of order.
    const misnamed = files.filter((f) => !/^\d{4}_[a-z0-9_]+\.sql$/.test(f));
    if (misnamed.length > 0) throw new Error(`migration files must be named like 0001_some_change.sql: ${misnamed.join(', ')}`);
    const applied: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(MIGRATIONS_DIR, file), 'utf8');
      const checksum = createHash('sha256').update(text).digest('hex');
      const previous = done.get(file);
      if (previous !== undefined) {
        if (previous !== checksum) throw new Error(`migration ${file} was changed after it was applied; add a new migration instead`);
        continue;
      }
      const started = Date.now();
      await sql.begin(async (tx) => {
        await tx.unsafe(text);
        await tx`INSERT INTO schema_migrations (version, checksum) VALUES (${file}, ${checksum})`;
      });
      applied.push(file);
      log(`applied ${file} (${Date.now() - started} ms)`);
    }
    if (opts.seed) {
      if (!/^[a-z]+$/.test(opts.seed)) throw new Error(`bad seed name ${opts.seed}`);
      await sql.unsafe(readFileSync(join(SEEDS_DIR, `${opts.seed}.sql`), 'utf8'));
      log(`seeded ${opts.seed}`);
    }
    return { applied, skipped: files.length - applied.length };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** What the command reads (the database URL as the services read it), validated before it connects. */
function cliEnv(): { DATABASE_URL: string } {
  try {
    return parseEnv(databaseSpec, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`[migrate] ${err.message}\n`);
    process.exit(2);
  }
}

if (import.meta.main) {
  const { DATABASE_URL } = cliEnv();
  const seedIndex = process.argv.indexOf('--seed');
  const seed = seedIndex > 0 ? process.argv[seedIndex + 1] : undefined;
  migrate(DATABASE_URL, { seed, log: (l) => process.stdout.write(`[migrate] ${l}\n`) }).then(
    (r) => {
      process.stdout.write(`[migrate] ${r.applied.length} applied, ${r.skipped} already applied\n`);
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`[migrate] ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
