// @ts-check
/**
 * Toxiproxy (Shopify's TCP fault proxy), built once from the Go module proxy into the git-ignored cache
 * and run on loopback for the fault-injection suite: every link from the services to a dependency runs
 * through one of its proxies, where the suite adds latency, bandwidth limits, resets and partitions.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { ensureAptPackages, log, run, runningPid, startDetached, stopProcess, waitFor, which } from '../lib/proc.mjs';

const MODULE = 'github.com/Shopify/toxiproxy/v2/cmd/server';

/** @param {import('../config.mjs').StackConfig} cfg */
export function binary(cfg) {
  return join(cfg.cacheDir, `toxiproxy-${cfg.chaos.toxiproxyVersion}`, 'toxiproxy-server');
}

/** Builds the server once (about a minute on 2 cores); a second call finds it in the cache. */
export function ensureBinary(/** @type {import('../config.mjs').StackConfig} */ cfg) {
  const bin = binary(cfg);
  if (existsSync(bin)) return bin;
  ensureAptPackages([{ pkg: 'golang-go', probe: () => which('go') !== null }]);
  const dir = join(cfg.cacheDir, `toxiproxy-${cfg.chaos.toxiproxyVersion}`);
  mkdirSync(dir, { recursive: true });
  log(`building Toxiproxy ${cfg.chaos.toxiproxyVersion} from the Go module proxy into ${dir}`);
  run('go', ['install', `${MODULE}@${cfg.chaos.toxiproxyVersion}`], {
    env: { ...process.env, GOBIN: dir, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
  });
  renameSync(join(dir, 'server'), bin);
  return bin;
}

/** @param {import('../config.mjs').StackConfig} cfg */
export function apiUrl(cfg) {
  return `http://${cfg.host}:${cfg.chaos.toxiproxyPort}`;
}

/** @param {import('../config.mjs').StackConfig} cfg */
export async function up(cfg) {
  const bin = ensureBinary(cfg);
  if (runningPid(cfg, 'toxiproxy') === null)
    startDetached(cfg, 'toxiproxy', bin, ['-host', cfg.host, '-port', String(cfg.chaos.toxiproxyPort)]);
  return waitFor('Toxiproxy', async () => (await fetch(`${apiUrl(cfg)}/version`)).ok, {
    timeoutMs: 15_000,
    logPath: join(cfg.logDir, 'toxiproxy.log'),
    alive: () => runningPid(cfg, 'toxiproxy') !== null,
  });
}

/** @param {import('../config.mjs').StackConfig} cfg */
export function down(cfg) {
  return stopProcess(cfg, 'toxiproxy', 5_000);
}
