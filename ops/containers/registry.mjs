// @ts-check
/**
 * A real image registry on loopback (Debian's docker-registry, the CNCF Distribution server) for the
 * container suite: the CI/CD build-and-push script pushes to it as it pushes to GHCR in GitHub Actions.
 * The engine trusts 127.0.0.0/8 registries over plain HTTP by default; nothing leaves the machine.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureAptPackages, runningPid, startDetached, stopProcess, waitFor } from '../local/lib/proc.mjs';

export const REGISTRY_PORT = Number(process.env.IMAGE_REGISTRY_PORT ?? 27500);
export const REGISTRY = `127.0.0.1:${REGISTRY_PORT}`;

/** @param {import('../local/config.mjs').StackConfig} cfg */
export async function registryUp(cfg) {
  ensureAptPackages([{ pkg: 'docker-registry', probe: () => existsSync('/usr/bin/docker-registry') }]);
  const dir = join(cfg.localDir, 'image-registry');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const conf = join(dir, 'config.yml');
  writeFileSync(
    conf,
    [
      'version: 0.1',
      'log: { level: warn }',
      'storage:',
      `  filesystem: { rootdirectory: ${join(dir, 'data')} }`,
      '  delete: { enabled: true }',
      'http:',
      `  addr: ${REGISTRY}`,
      '',
    ].join('\n'),
  );
  if (runningPid(cfg, 'image-registry') === null) startDetached(cfg, 'image-registry', '/usr/bin/docker-registry', ['serve', conf]);
  await waitFor('image registry', async () => (await fetch(`http://${REGISTRY}/v2/`)).ok, {
    timeoutMs: 20_000,
    logPath: join(cfg.logDir, 'image-registry.log'),
    alive: () => runningPid(cfg, 'image-registry') !== null,
  });
  return REGISTRY;
}

/** @param {import('../local/config.mjs').StackConfig} cfg */
export function registryDown(cfg) {
  return stopProcess(cfg, 'image-registry', 5_000);
}
