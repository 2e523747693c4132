/**
 * What a whole-platform benchmark sets up before it starts the services: the local stack, the bench
 * database recreated empty (migrated, dev seed), the run's namespace with fresh topics, and the services'
 * environment on the bench ports. Benches never touch the dev or test databases and namespaces.
 */
import postgres from 'postgres';
import { bootstrap, prepareData } from '../local/bootstrap.mjs';
import { recreateDatabase } from '../local/components/postgres.mjs';
import { type Mode, serviceEnv } from '../local/services.mjs';
import { BENCH_PORTS } from './lib';

export const BENCH_DATABASE = 'orders_bench';

export async function benchStack(namespace: string) {
  const { cfg, registry } = await bootstrap();
  const database = BENCH_DATABASE;
  recreateDatabase(cfg, database);
  const mode: Mode = { database, namespace, stage: 'test', ports: BENCH_PORTS, registry, logLevel: 'warn' };
  prepareData(cfg, { database, namespace, seed: 'dev', resetTopics: true });
  return { cfg, registry, database, mode, env: serviceEnv(cfg, mode) };
}

/**
 * A small client on the bench database, with enough stock that no run sells out: the benches measure
 * the happy path's speed.
 */
export async function stockedSql(env: { DATABASE_URL: string }) {
  const sql = postgres(env.DATABASE_URL, { max: 2, onnotice: () => {} });
  await sql`UPDATE products SET stock = 1000000000 WHERE sku <> 'LAST-ONE'`;
  return sql;
}
