#!/usr/bin/env node
// @ts-check
/**
 * Data tasks against the local stack, with its connection settings filled in:
 *
 *   node ops/local/tasks.mjs migrate    apply pending migrations to the dev database
 *   node ops/local/tasks.mjs seed       migrations, then the dev catalogue
 *   node ops/local/tasks.mjs topics     create missing Kafka topics (NAMESPACE, default none)
 */
import { join } from 'node:path';
import { stackConfig, stackUrls } from './config.mjs';
import { run } from './lib/proc.mjs';

const cfg = stackConfig();
const bun = join(cfg.root, 'node_modules/.bin/bun');
const env = { ...process.env, ...stackUrls(cfg), NAMESPACE: process.env.NAMESPACE ?? '', KAFKAJS_NO_PARTITIONER_WARNING: '1' };
const tasks = {
  migrate: ['ops/db/migrate.ts'],
  seed: ['ops/db/migrate.ts', '--seed', 'dev'],
  topics: ['ops/kafka/topics.ts'],
};
const args = /** @type {Record<string, string[]>} */ (tasks)[process.argv[2] ?? ''];
if (!args) {
  process.stderr.write(`usage: tasks.mjs ${Object.keys(tasks).join('|')}\n`);
  process.exit(2);
}
try {
  process.stdout.write(run(bun, args, { cwd: cfg.root, env }).stdout);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
