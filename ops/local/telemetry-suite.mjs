#!/usr/bin/env node
// @ts-check
/**
 * The telemetry suite (`npm run test:observability`, i.e. `npm test -- telemetry`; `.ci/run` runs it after
 * `npm test`): brings up the real Prometheus and/or Jaeger (ops/local/observability.mjs) in test mode, runs
 * ops/telemetry/*.suite.ts against them and the test services, and stops them again. Run from
 * ops/local/test.mjs, which has prepared the stack, the test database and the test environment.
 *
 * Only the backends the selected files need are started and stopped (NEEDS, by file name), so `npm test --
 * telemetry -- telemetry/alerts.suite.ts` runs without Jaeger. Files: absolute paths or relative to ops/.
 * A dev-mode Prometheus that was running before (`npm run observability -- up`) is started again afterwards.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import * as prometheus from './components/prometheus.mjs';
import { stackConfig } from './config.mjs';
import { down, up } from './observability.mjs';

/** @typedef {import('./observability.mjs').Backend} Backend */

/**
 * What a suite file needs, by the start of its name (`alerts.suite.ts` → alerts); a file not listed
 * gets every backend.
 * @type {Record<string, Backend[]>}
 */
const NEEDS = { alerts: ['prometheus'], trace: ['jaeger'] };
const ALL = /** @type {Backend[]} */ (['prometheus', 'jaeger']);

/** @param {string} file @returns {Backend[]} */
function needs(file) {
  const name = basename(file);
  const entry = Object.entries(NEEDS).find(([prefix]) => name.startsWith(prefix));
  return entry ? entry[1] : ALL;
}

const cfg = stackConfig();
const opsDir = join(cfg.root, 'ops');
const dir = join(opsDir, 'telemetry');
// Files made absolute (`bun test` takes a bare relative name for a filter, not a file); flags such as
// `-t <name>` go to bun test as they are.
const passThrough = process.argv.slice(2).map((a) => (a.endsWith('.ts') ? resolve(opsDir, a) : a));
const given = passThrough.filter((a) => a.endsWith('.ts'));
const files =
  given.length > 0
    ? given
    : readdirSync(dir)
        .filter((f) => f.endsWith('.suite.ts'))
        .map((f) => join(dir, f));
const backends = ALL.filter((b) => files.some((f) => needs(f).includes(b)));
const devPrometheus = prometheus.runningMode(cfg) === 'dev';
let status = 1;
try {
  const urls = await up(cfg, { test: true, only: backends });
  /** @type {Record<string, string>} */
  const backendEnv = {};
  if (urls.prometheusUrl) backendEnv.PROMETHEUS_URL = urls.prometheusUrl;
  if (urls.jaegerUrl) backendEnv.JAEGER_URL = urls.jaegerUrl;
  if (urls.otlpUrl) backendEnv.OTLP_URL = urls.otlpUrl;
  const res = spawnSync(
    join(cfg.root, 'node_modules/.bin/bun'),
    ['test', ...(given.length > 0 ? passThrough : [...files, ...passThrough])],
    {
      cwd: opsDir,
      stdio: 'inherit',
      env: { ...process.env, ...backendEnv },
    },
  );
  status = res.status ?? 1;
} finally {
  await down(cfg, { only: backends });
  if (devPrometheus) await prometheus.up(cfg);
}
process.exit(status);
