// @ts-check
/**
 * A local Redis Cluster of three masters (no replicas) on loopback, for the tests that must prove the
 * rate limiter works on Cluster (every key of one subject in one hash slot). Started by `npm test` only;
 * idempotent: running nodes are reused, a formed cluster is left as it is.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { redisPing } from '../lib/probes.mjs';
import { log, run, runningPid, stopProcess, waitFor, which } from '../lib/proc.mjs';
import { startRedis } from './redis.mjs';

/** @param {import('../config.mjs').StackConfig} cfg @param {number} port */
function clusterInfo(cfg, port) {
  return run('redis-cli', ['-h', cfg.host, '-p', String(port), 'cluster', 'info'], { allowFail: true }).stdout;
}

/** @param {import('../config.mjs').StackConfig} cfg */
export async function up(cfg) {
  if (!which('redis-server') || !which('redis-cli'))
    throw new Error('redis-server and redis-cli are needed for the test cluster (the stack installs them)');
  const { host } = cfg;
  const { ports } = cfg.redisCluster;
  for (const port of ports) {
    if (await redisPing(host, port).catch(() => false)) continue;
    await startRedis(cfg, `redis-cluster-${port}`, port, join(cfg.dataDir, 'redis-cluster', String(port)), [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `nodes-${port}.conf`,
      '--cluster-node-timeout',
      '2000',
    ]);
  }
  const first = clusterInfo(cfg, /** @type {number} */ (ports[0]));
  if (!first.includes('cluster_state:ok')) {
    const known = /cluster_known_nodes:(\d+)/.exec(first)?.[1];
    if (known === '1') {
      log(`forming a Redis Cluster of ${ports.length} masters on ports ${ports.join(', ')}`);
      run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `${host}:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    }
    await waitFor('Redis Cluster', async () => ports.every((p) => clusterInfo(cfg, p).includes('cluster_state:ok')), { timeoutMs: 30_000 });
  }
  return ports.map((p) => `${host}:${p}`);
}

/** @param {import('../config.mjs').StackConfig} cfg */
export async function down(cfg) {
  const stopped = await Promise.all(cfg.redisCluster.ports.map((p) => stopProcess(cfg, `redis-cluster-${p}`, 10_000)));
  return stopped.some(Boolean);
}

/** @param {import('../config.mjs').StackConfig} cfg */
export function status(cfg) {
  const pids = cfg.redisCluster.ports.map((p) => runningPid(cfg, `redis-cluster-${p}`));
  return pids.some((p) => p !== null)
    ? `ports ${cfg.redisCluster.ports.join(', ')} (pids ${pids.map((p) => p ?? '-').join(', ')}; started by npm test)`
    : 'not running (npm test starts it)';
}

/** @param {import('../config.mjs').StackConfig} cfg */
export function wipe(cfg) {
  rmSync(join(cfg.dataDir, 'redis-cluster'), { recursive: true, force: true });
}
