// @ts-check
/**
 * Everything `npm start` and `npm test` need before a service can run, on a fresh clone or a warm
 * one: npm dependencies (installed from the lockfile when missing or stale), the local stack, the
 * database schema and seed data, the Kafka topics. Dependency-free until `npm ci` has run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stackConfig, stackUrls } from './config.mjs';
import { ensureAptPackages, log, run, which } from './lib/proc.mjs';
import { up } from './stack.mjs';

/** @param {import('./config.mjs').StackConfig} cfg */
export function ensureNpmDependencies(cfg) {
  const lock = join(cfg.root, 'package-lock.json');
  const installed = join(cfg.root, 'node_modules/.package-lock.json');
  const stale = !existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs;
  const missingBinaries = ['node_modules/.bin/bun', 'node_modules/node-rdkafka/build/Release/node-librdkafka.node'].some(
    (p) => !existsSync(join(cfg.root, p)),
  );
  if (!stale && !missingBinaries) return;
  // node-rdkafka has no prebuilt binaries: node-gyp compiles librdkafka, which needs a C/C++ toolchain.
  ensureAptPackages([
    { pkg: 'python3', probe: () => which('python3') !== null },
    { pkg: 'make', probe: () => which('make') !== null },
    { pkg: 'g++', probe: () => which('g++') !== null },
  ]);
  log('installing npm dependencies from package-lock.json (node-rdkafka compiles librdkafka: a few minutes the first time)');
  const res = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: cfg.root, stdio: 'inherit' });
  if (res.status !== 0) throw new Error(`npm ci failed (exit ${res.status})`);
}

/**
 * Applies migrations (and a seed) to one database and makes sure a namespace's topics exist.
 * @param {import('./config.mjs').StackConfig} cfg
 * @param {{ database: string, namespace: string, seed?: string, resetTopics?: boolean }} opts
 */
export function prepareData(cfg, opts) {
  const bun = join(cfg.root, 'node_modules/.bin/bun');
  const urls = stackUrls(cfg, { database: opts.database });
  const env = { ...process.env, ...urls, NAMESPACE: opts.namespace, KAFKAJS_NO_PARTITIONER_WARNING: '1' };
  const migrateArgs = ['ops/db/migrate.ts', ...(opts.seed ? ['--seed', opts.seed] : [])];
  process.stdout.write(run(bun, migrateArgs, { cwd: cfg.root, env }).stdout);
  const topicArgs = ['ops/kafka/topics.ts', ...(opts.resetTopics ? ['--reset'] : [])];
  process.stdout.write(run(bun, topicArgs, { cwd: cfg.root, env }).stdout);
}

/** npm dependencies + the stack. Returns the stack config and whether a registry is up. */
export async function bootstrap() {
  const cfg = stackConfig();
  ensureNpmDependencies(cfg);
  const stack = await up(cfg);
  return { cfg, registry: stack.registry, stackReadyMs: stack.readyMs };
}
