// @ts-check
/**
 * A local Redis Cluster of three masters (no replicas) on loopback, for the tests that must prove the
 * rate limiter works on Cluster (every key of one subject in one hash slot). Started by `npm test` only;
 * idempotent: running nodes are reused, a formed cluster is left as it is.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { redisPing } from '../lib/probes.mjs';
import { log, run, runningPid, startDetached, stopProcess, waitFor, which } from '../lib/proc.mjs';

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
    const dir = join(cfg.dataDir, 'redis-cluster', String(port));
    mkdirSync(dir, { recursive: true });
    const name = `redis-cluster-${port}`;
    const { logPath } = startDetached(cfg, name, 'redis-server', [
      '--bind',
      host,
      '--port',
      String(port),
      '--dir',
      dir,
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `nodes-${port}.conf`,
      '--cluster-node-timeout',
      '2000',
      '--save',
      '',
      '--appendonly',
      'no',
    ]);
    await waitFor(`Redis cluster node ${port}`, () => redisPing(host, port), {
      timeoutMs: 10_000,
      logPath,
      alive: () => runningPid(cfg, name) !== null,
    });
  }
  if (!clusterInfo(cfg, ports[0] ?? 7000).includes('cluster_state:ok')) {
    const known = /cluster_known_nodes:(\d+)/.exec(clusterInfo(cfg, ports[0] ?? 7000))?.[1];
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
export function wipe(cfg) {
  rmSync(join(cfg.dataDir, 'redis-cluster'), { recursive: true, force: true });
}
