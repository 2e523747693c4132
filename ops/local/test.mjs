#!/usr/bin/env node
// @ts-check
/**
 * `npm test`: the same set-up as `npm start` (dependencies, stack), then a fresh test database and
 * fresh `test.*` topics, then every suite in turn against the real PostgreSQL, Redis, Kafka and schema
 * registry: static checks, each package's unit and integration tests, the end-to-end suite.
 * One suite at a time: they share the machine's two cores and the stack.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bootstrap, prepareData } from './bootstrap.mjs';
import { recreateDatabase } from './components/postgres.mjs';
import * as redisCluster from './components/redis-cluster.mjs';
import { ensureSchemathesis } from './components/schemathesis.mjs';
import * as toxiproxy from './components/toxiproxy.mjs';
import { ensureAptPackages } from './lib/proc.mjs';
import { serviceEnv, testMode } from './services.mjs';

const t0 = Date.now();
const { cfg, registry, stackReadyMs } = await bootstrap();
const mode = testMode(cfg, registry);
recreateDatabase(cfg, mode.database);
prepareData(cfg, { database: mode.database, namespace: mode.namespace, seed: 'dev', resetTopics: true });
// `npm test -- gateway ops -- test/x.test.ts`: the suites named (by prefix), and after a second `--`, what
// their test runner gets (one file, a name filter) instead of everything.
const argv = process.argv.slice(2);
const split = argv.indexOf('--');
const only = split < 0 ? argv : argv.slice(0, split);
const passThrough = split < 0 ? [] : argv.slice(split + 1);
const selected = (/** @type {string} */ name) => only.length === 0 || only.some((o) => name.startsWith(o));
// Suites that run only when named (`npm test -- telemetry`, which `npm run test:observability` is): they
// start backends of their own and take minutes, so a plain `npm test` stays within its budget.
const EXPLICIT = ['telemetry'];
const named = (/** @type {string} */ name) => only.some((o) => name.startsWith(o));
// The 3-master Redis Cluster the platform and ws-edge suites use (the limiter, the feed, an edge on Cluster).
const clusterNodes = selected('platform') || selected('ws-edge') ? await redisCluster.up(cfg) : [];
// The tracking page's browser test drives Debian's Chromium (playwright-core downloads no browser).
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// …and the nginx test runs Debian's nginx in front of the services.
if (selected('ops'))
  ensureAptPackages([
    { pkg: 'chromium', probe: () => existsSync(chromium) },
    { pkg: 'nginx', probe: () => existsSync('/usr/sbin/nginx') },
  ]);
// …and the OpenAPI conformance suite runs schemathesis (PyPI) against the gateway.
const schemathesis = selected('ops') ? ensureSchemathesis(cfg) : '';
// …and the fault-injection suite puts Toxiproxy (built from the Go module proxy) between services and dependencies.
if (selected('ops')) toxiproxy.ensureBinary(cfg);
const setupMs = Date.now() - t0;
// The end-to-end suites append their services' output to .local/logs/e2e-*.log: start each run empty.
for (const f of readdirSync(cfg.logDir)) if (f.startsWith('e2e-')) rmSync(join(cfg.logDir, f));

const env = {
  ...process.env,
  ...serviceEnv(cfg, mode), // TEST_…: the suites that use the Cluster ask for it; services given REDIS_CLUSTER_NODES would all use it.
  TEST_REDIS_CLUSTER_NODES: clusterNodes.join(','),
  SCHEMATHESIS_BIN: schemathesis,
  FORCE_COLOR: '0',
};
const suites = [
  ['lint', 'npm', ['run', 'lint']],
  ['typecheck', 'npm', ['run', 'typecheck']],
  ['contracts', 'npm', ['test', '-w', 'contracts']],
  ['platform', 'npm', ['test', '-w', 'platform']],
  ['workers', 'npm', ['test', '-w', 'workers']],
  ['gateway', 'npm', ['test', '-w', 'gateway']],
  ['ws-edge', 'npm', ['test', '-w', 'ws-edge']],
  ['ops + end-to-end', 'npm', ['test', '-w', 'ops']],
  ['deploy', 'node', ['ops/tools/deploy-check.mjs']],
  ['telemetry', 'node', ['ops/local/telemetry-suite.mjs']],
].filter(([name]) => (EXPLICIT.includes(String(name)) ? named(String(name)) : selected(String(name))));

/** @type {[string, boolean, number][]} */
const results = [];
for (const [name, cmd, args] of suites) {
  const started = Date.now();
  process.stdout.write(`\n━━ ${name} ━━\n`);
  const runArgs =
    passThrough.length === 0
      ? args
      : cmd === 'npm'
        ? [.../** @type {string[]} */ (args), '--', ...passThrough]
        : name === 'telemetry' // its files, straight to telemetry-suite.mjs
          ? [.../** @type {string[]} */ (args), ...passThrough]
          : args;
  const res = spawnSync(/** @type {string} */ (cmd), /** @type {string[]} */ (runArgs), { cwd: cfg.root, env, stdio: 'inherit' });
  results.push([/** @type {string} */ (name), res.status === 0, Date.now() - started]);
}

process.stdout.write(`\n━━ summary ━━\nset-up ${(setupMs / 1000).toFixed(1)} s (stack ready in ${(stackReadyMs / 1000).toFixed(1)} s)\n`);
for (const [name, ok, ms] of results) process.stdout.write(`${ok ? 'pass' : 'FAIL'}  ${name.padEnd(18)} ${(ms / 1000).toFixed(1)} s\n`);
process.stdout.write(`total ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
process.exit(results.every(([, ok]) => ok) ? 0 : 1);
