// @ts-check
/**
 * Redis from Debian's packages, run by the stack itself (not the distribution's service) on loopback,
 * without persistence: Redis holds nothing the platform may not lose (see DESIGN.md, Data).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { redisPing } from '../lib/probes.mjs';
import { asRoot, ensureAptPackages, log, run, runningPid, startDetached, stopProcess, waitFor, which } from '../lib/proc.mjs';

/** @param {import('../config.mjs').StackConfig} cfg */
export async function up(cfg) {
  const { host } = cfg;
  const { port } = cfg.redis;
  if (await redisPing(host, port).catch(() => false)) {
    if (runningPid(cfg, 'redis') === null) log(`Redis already answers on ${host}:${port}; using it`);
    return 0;
  }
  ensureAptPackages([{ pkg: 'redis-server', probe: () => which('redis-server') !== null }]);
  if (await redisPing(host, port).catch(() => false)) {
    // Installing the package may have started the distribution's service (persistent, not ours to manage):
    // stop it, so the stack's own Redis (no persistence, managed by down/reset) takes the port.
    log(`stopping the distribution's redis-server service that the install started on port ${port}`);
    const [bin, ...rest] = [...asRoot(), 'sh', '-c', 'service redis-server stop || systemctl stop redis-server || true'];
    run(/** @type {string} */ (bin), rest, { allowFail: true });
    await waitFor('the distribution Redis to stop', async () => !(await redisPing(host, port).catch(() => false)), { timeoutMs: 10_000 });
  }
  return startRedis(cfg, 'redis', port, join(cfg.dataDir, 'redis'), ['--protected-mode', 'yes', '--maxmemory-policy', 'noeviction']);
}

/**
 * Starts one redis-server of the stack on loopback without persistence and waits until it (ours, not
 * some other Redis holding the port) answers. Resolves with the ms it took.
 * @param {import('../config.mjs').StackConfig} cfg @param {string} name @param {number} port @param {string} dir
 * @param {string[]} extraArgs
 */
export function startRedis(cfg, name, port, dir, extraArgs) {
  const { host } = cfg;
  mkdirSync(dir, { recursive: true });
  const args = ['--bind', host, '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no', ...extraArgs];
  const { logPath } = startDetached(cfg, name, 'redis-server', args);
  return waitFor(name, async () => (await redisPing(host, port)) && runningPid(cfg, name) !== null, {
    timeoutMs: 15_000,
    logPath,
    alive: () => runningPid(cfg, name) !== null,
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
