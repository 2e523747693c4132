/** The migration runner against a scratch database on the real PostgreSQL. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { migrate } from './migrate';

const base = process.env.DATABASE_URL as string;
const name = `migrate_test_${randomUUID().slice(0, 8)}`;
const scratch = (() => {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
})();
const admin = postgres(base, { max: 1, onnotice: () => {} });

beforeAll(async () => {
  await admin.unsafe(`CREATE DATABASE ${name}`);
});

afterAll(async () => {
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
});

describe('migrate', () => {
  test('applies every migration once, in order, and is a no-op the second time', async () => {
    const first = await migrate(scratch, { seed: 'dev' });
    const onDisk = readdirSync(join(import.meta.dir, 'migrations'))
      .filter((f) => f.endsWith('.sql'))
      .sort();
    expect(onDisk.length).toBeGreaterThan(0);
    expect(first.applied).toEqual(onDisk);
    const second = await migrate(scratch, { seed: 'dev' });
    expect(second).toEqual({ applied: [], skipped: first.applied.length });
    const sql = postgres(scratch, { max: 1 });
    const [{ n }] = (await sql`SELECT count(*)::int AS n FROM products WHERE sku = 'MUG-BLUE'`) as unknown as [{ n: number }];
    expect(n).toBe(1);
    await sql.end();
  });

  test('refuses to run when an applied migration was edited afterwards', async () => {
    const sql = postgres(scratch, { max: 1 });
    await sql`UPDATE schema_migrations SET checksum = 'edited' WHERE version = (SELECT min(version) FROM schema_migrations)`;
    await sql.end();
    await expect(migrate(scratch)).rejects.toThrow(/was changed after it was applied/);
  });

  test('two runs at once serialise on the advisory lock instead of applying twice', async () => {
    const fresh = `${name}_b`;
    await admin.unsafe(`CREATE DATABASE ${fresh}`);
    const url = scratch.replace(`/${name}`, `/${fresh}`);
    try {
      const [a, b] = await Promise.all([migrate(url), migrate(url)]);
      expect(a.applied.length + b.applied.length).toBe(Math.max(a.applied.length, b.applied.length));
    } finally {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${fresh} WITH (FORCE)`);
    }
  });
});
