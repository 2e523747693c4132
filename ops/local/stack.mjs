#!/usr/bin/env node
// @ts-check
/**
 * The local stack without Docker: PostgreSQL, Redis, Kafka (KRaft) and a schema registry on loopback.
 *
 *   node ops/local/stack.mjs up       install what is missing, start what is stopped, wait until each answers
 *   node ops/local/stack.mjs down     stop what this stack started
 *   node ops/local/stack.mjs reset    stop, then wipe all data (databases, Kafka log, Redis)
 *   node ops/local/stack.mjs status   what answers where
 *
 * Idempotent: `up` on a running stack only checks it. Ports and folders: ops/local/config.mjs.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as kafka from './components/kafka.mjs';
import * as kafkaCluster from './components/kafka-cluster.mjs';
import * as postgres from './components/postgres.mjs';
import * as redis from './components/redis.mjs';
import * as redisCluster from './components/redis-cluster.mjs';
import * as registry from './components/registry.mjs';
import * as toxiproxy from './components/toxiproxy.mjs';
import { stackConfig, stackUrls } from './config.mjs';
import { writeKeyValueFile } from './lib/key-value-file.mjs';
import { log, stopProcess } from './lib/proc.mjs';

/**
 * Brings the stack up and returns what the services need to reach it.
 * @param {import('./config.mjs').StackConfig} [cfg]
 */
export async function up(cfg = stackConfig()) {
  const started = Date.now();
  mkdirSync(cfg.logDir, { recursive: true });
  const pgMs = await postgres.up(cfg);
  const redisMs = await redis.up(cfg);
  // Downloads first (they block), then the two JVMs, which take the longest, side by side.
  kafka.ensureJars(cfg);
  await registry.ensureDist(cfg);
  const [kafkaMs, reg] = await Promise.all([kafka.up(cfg), registry.up(cfg)]);
  const urls = stackUrls(cfg, { registry: reg.available });
  const envFile = join(cfg.localDir, 'stack.env');
  writeKeyValueFile(envFile, urls, 0o600);
  const total = Date.now() - started;
  log(
    `PostgreSQL ready (${pgMs} ms), Redis ready (${redisMs} ms), Kafka ready (${kafkaMs} ms), schema registry ${reg.available ? `ready (${reg.ms} ms)` : `skipped: ${reg.why}`}`,
  );
  log(`stack ready in ${(total / 1000).toFixed(1)} s; connection settings in ${envFile}`);
  return { urls, registry: reg.available, readyMs: total };
}

/**
 * What the fault-injection suite runs (ops/chaos), if a run left it up (`--keep`, or an interrupted run).
 * @param {import('./config.mjs').StackConfig} cfg
 */
async function chaosDown(cfg) {
  const stopped = await Promise.all([kafkaCluster.down(cfg), toxiproxy.down(cfg), stopProcess(cfg, 'chaos-redis', 10_000)]);
  if (postgres.namedOnline('chaos')) {
    postgres.ctlNamed('chaos', 'stop');
    return true;
  }
  return stopped.some(Boolean);
}

/** @param {import('./config.mjs').StackConfig} [cfg] */
export async function down(cfg = stackConfig()) {
  const names = ['registry', 'kafka', 'redis', 'redis-cluster', 'chaos stack'];
  const stopped = await Promise.all([registry.down(cfg), kafka.down(cfg), redis.down(cfg), redisCluster.down(cfg), chaosDown(cfg)]);
  const pg = postgres.down(cfg);
  log(`stopped: ${[...names.filter((_, i) => stopped[i]), ...(pg ? ['postgres'] : [])].join(', ') || 'nothing was running'}`);
}

/** @param {import('./config.mjs').StackConfig} [cfg] */
export async function reset(cfg = stackConfig()) {
  await Promise.all([registry.down(cfg), kafka.down(cfg), redis.down(cfg), redisCluster.down(cfg), chaosDown(cfg)]);
  kafka.wipe(cfg);
  kafkaCluster.wipe(cfg);
  redis.wipe(cfg);
  redisCluster.wipe(cfg);
  await postgres.up(cfg);
  postgres.wipe(cfg);
  log('wiped: Kafka log, Redis data, the project databases; `npm run stack:up` starts afresh');
}

/** @param {import('./config.mjs').StackConfig} [cfg] */
export async function status(cfg = stackConfig()) {
  const rows = [
    ['postgres', postgres.status(cfg)],
    ['redis', await redis.status(cfg)],
    ['kafka', await kafka.status(cfg)],
    ['registry', await registry.status(cfg)],
    ['redis-cluster', redisCluster.status(cfg)],
  ];
  for (const [name, s] of rows) process.stdout.write(`${String(name).padEnd(14)} ${s}\n`);
}

const commands = { up, down, reset, status };

if (import.meta.url === `file://${process.argv[1]}`) {
  const name = process.argv[2] ?? 'up';
  const cmd = /** @type {Record<string, () => Promise<unknown>>} */ (commands)[name];
  if (!cmd) {
    process.stderr.write(`usage: stack.mjs ${Object.keys(commands).join('|')}\n`);
    process.exit(2);
  }
  cmd().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`[stack] ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
