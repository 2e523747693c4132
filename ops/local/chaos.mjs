#!/usr/bin/env node
// @ts-check
/**
 * `npm run chaos [-- --schedule short|full] [--keep]`: installs what is missing (npm dependencies; the
 * chaos platform's own Kafka jars, PostgreSQL cluster, Redis and Toxiproxy come up inside the run), then
 * runs the fault-injection schedule (ops/chaos/run.ts) and prints the invariant table. It needs nothing
 * of `npm start`'s stack and leaves it alone.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureNpmDependencies } from './bootstrap.mjs';
import * as kafka from './components/kafka.mjs';
import * as toxiproxy from './components/toxiproxy.mjs';
import { stackConfig } from './config.mjs';
import { ensureAptPackages, which } from './lib/proc.mjs';

const cfg = stackConfig();
ensureNpmDependencies(cfg);
ensureAptPackages([
  { pkg: 'redis-server', probe: () => which('redis-server') !== null },
  { pkg: 'postgresql', probe: () => which('pg_ctlcluster') !== null },
]);
kafka.ensureJars(cfg);
toxiproxy.ensureBinary(cfg);
const res = spawnSync(join(cfg.root, 'node_modules/.bin/bun'), ['ops/chaos/run.ts', ...process.argv.slice(2)], {
  cwd: cfg.root,
  stdio: 'inherit',
});
process.exit(res.status ?? 1);
