// @ts-check
/**
 * Redis from Debian's packages, run by the stack itself (not the distribution's service) on loopback,
 * without persistence: Redis holds nothing the platform may not lose (see DESIGN.md, Data).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { redisPing } from '../lib/probes.mjs';
import { ensureAptPackages, log, runningPid, startDetached, stopProcess, waitFor, which } from '../lib/proc.mjs';

/** @param {import('../config.mjs').StackConfig} cfg */
export async function up(cfg) {
  const { host } = cfg;
  const { port } = cfg.redis;
  if (await redisPing(host, port).catch(() => false)) {
    if (runningPid(cfg, 'redis') === null) log(`Redis already answers on ${host}:${port}; using it`);
    return 0;
  }
  ensureAptPackages([{ pkg: 'redis-server', probe: () => which('redis-server') !== null }]);
  const dir = join(cfg.dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const { logPath } = startDetached(cfg, 'redis', 'redis-server', [
    '--bind',
    host,
    '--port',
    String(port),
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--protected-mode',
    'yes',
    '--maxmemory-policy',
    'noeviction',
  ]);
  return waitFor('Redis', () => redisPing(host, port), {
    timeoutMs: 15_000,
    logPath,
    alive: () => runningPid(cfg, 'redis') !== null,
  });
}

/** @param {import('../config.mjs').StackConfig} cfg */
export function down(cfg) {
  return stopProcess(cfg, 'redis', 10_000);
}

/** @param {import('../config.mjs').StackConfig} cfg */
export function wipe(cfg) {
  rmSync(join(cfg.dataDir, 'redis'), { recursive: true, force: true });
}

/** @param {import('../config.mjs').StackConfig} cfg */
export async function status(cfg) {
  const ok = await redisPing(cfg.host, cfg.redis.port).catch(() => false);
  const pid = runningPid(cfg, 'redis');
  return `${ok ? 'answering' : 'not answering'} on port ${cfg.redis.port}${pid ? ` (pid ${pid})` : ok ? ' (not started by this stack)' : ''}`;
}
