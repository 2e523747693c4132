#!/usr/bin/env node
// @ts-check
/**
 * Brings one stage of the Docker Compose deployment up or down: renders nginx.conf from the one template
 * (TLS in staging and prod), then `docker compose -f docker-compose.yml -f ops/compose/<stage>.yml`.
 * Needs a Docker engine (none runs on the development machines this repository is built on).
 *
 *   node ops/compose/stage.mjs dev|staging|prod [up|down|config] [extra docker compose args…]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stackConfig } from '../local/config.mjs';
import { renderNginx } from '../nginx/render.mjs';

const [stage, action = 'up', ...extra] = process.argv.slice(2);
if (!['dev', 'staging', 'prod'].includes(String(stage)) || !['up', 'down', 'config'].includes(action)) {
  process.stderr.write('usage: node ops/compose/stage.mjs dev|staging|prod [up|down|config] [docker compose args…]\n');
  process.exit(2);
}
const cfg = stackConfig();
const tls = stage !== 'dev';
const dir = join(cfg.localDir, 'nginx');
mkdirSync(dir, { recursive: true });
const conf = join(dir, 'nginx.conf');
writeFileSync(
  conf,
  renderNginx({
    listen: tls ? '443' : '80',
    gateways: ['gateway:8080'],
    edges: ['ws-edge:8090'],
    tls: tls ? { cert: '/etc/nginx/certs/tls.crt', key: '/etc/nginx/certs/tls.key' } : undefined,
  }),
);
const files = ['-f', 'docker-compose.yml', '-f', `ops/compose/${stage}.yml`];
const args = action === 'up' ? ['up', '-d', '--build', '--wait', ...extra] : action === 'down' ? ['down', ...extra] : ['config', ...extra];
const r = spawnSync('docker', ['compose', ...files, ...args], {
  cwd: cfg.root,
  stdio: 'inherit',
  env: { ...process.env, NGINX_CONF: conf },
});
process.exit(r.status ?? 1);
