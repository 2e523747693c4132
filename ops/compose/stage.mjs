#!/usr/bin/env node
// @ts-check
/**
 * Brings one stage of the Docker Compose deployment up or down: renders nginx.conf from the one template
 * (TLS in staging and prod), prepares what the stage reads from outside the repository when it is missing
 * (secret files, a self-signed certificate, an env file), then `docker compose -f docker-compose.yml
 * -f ops/compose/<stage>.yml`.
 *
 *   node ops/compose/stage.mjs dev|staging|prod [up|down|config|ps|logs] [--local-images] [docker compose args…]
 *
 * `--local-images`: a machine without Docker Hub (this one) builds local bases and the project's images
 * first (ops/containers) and adds ops/compose/local-images*.yml, which only swaps image names.
 * A `.env` at the repository root is used when it exists (ops/compose/env.example); otherwise one is
 * generated under .local/compose/ from the generated secrets.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jwtKeyFiles, localSecret, pgPassword, stackConfig, webhookKeyFile } from '../local/config.mjs';
import { run } from '../local/lib/proc.mjs';
import { renderNginx } from '../nginx/render.mjs';

export const STAGES = /** @type {const} */ (['dev', 'staging', 'prod']);

/**
 * Blue-green (ops/compose/bluegreen.mjs): the stateless services run as `blue` (the services of the compose
 * files) or `green` (copies named <service>-green in a generated file beside the stage's); nginx's
 * upstreams name the live color. Recorded per stage so a re-render (or an nginx restart) keeps it.
 */
export const COLORED = /** @type {const} */ (['gateway', 'ws-edge', 'workers-pipeline', 'workers-webhooks']);

/** @param {import('../local/config.mjs').StackConfig} cfg @param {string} stage */
export function colorFiles(cfg, stage) {
  const dir = join(cfg.localDir, 'compose');
  return { live: join(dir, `${stage}.live-color`), green: join(dir, `${stage}-green.yml`) };
}

/** @param {import('../local/config.mjs').StackConfig} cfg @param {string} stage @returns {'blue' | 'green'} */
export function liveColor(cfg, stage) {
  const f = colorFiles(cfg, stage).live;
  return existsSync(f) && readFileSync(f, 'utf8').trim() === 'green' ? 'green' : 'blue';
}

/** Forgets the colors (a stage taken down starts blue again). @param {import('../local/config.mjs').StackConfig} cfg @param {string} stage */
export function resetColors(cfg, stage) {
  for (const f of Object.values(colorFiles(cfg, stage))) rmSync(f, { force: true });
}

/** nginx.conf for a stage, its upstreams on the given color. @param {string} stage @param {'blue' | 'green'} color */
export function nginxConf(stage, color) {
  const tls = stage !== 'dev';
  const suffix = color === 'green' ? '-green' : '';
  return renderNginx({
    listen: tls ? '443' : '80',
    gateways: [`gateway${suffix}:8080`],
    edges: [`ws-edge${suffix}:8090`],
    tls: tls ? { cert: '/etc/nginx/certs/tls.crt', key: '/etc/nginx/certs/tls.key' } : undefined,
  });
}

/**
 * Secret files for the containers: the services run as unprivileged users (uid 1000, postgres), and
 * Compose mounts file secrets as they are on the host, so the copies it mounts must be readable to them.
 * Kept apart from the local stack's own (0600) files, under .local/compose/secrets.
 * @param {import('../local/config.mjs').StackConfig} cfg
 */
function composeSecrets(cfg) {
  jwtKeyFiles(cfg);
  webhookKeyFile(cfg);
  pgPassword(cfg);
  localSecret(cfg, 'pg-replication-password');
  localSecret(cfg, 'grafana-admin-password');
  localSecret(cfg, 'redis-password');
  const dir = join(cfg.localDir, 'compose', 'secrets');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  for (const f of readdirSync(cfg.secretsDir)) {
    copyFileSync(join(cfg.secretsDir, f), join(dir, f));
    chmodSync(join(dir, f), 0o644);
  }
  return dir;
}

/** A self-signed certificate for localhost (staging and prod terminate TLS at nginx). */
function certificates(/** @type {import('../local/config.mjs').StackConfig} */ cfg) {
  const dir = join(cfg.localDir, 'certs');
  if (!existsSync(join(dir, 'tls.crt'))) {
    mkdirSync(dir, { recursive: true });
    run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '30',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      join(dir, 'tls.key'),
      '-out',
      join(dir, 'tls.crt'),
    ]);
  }
  // The key stays 0600: nginx's master process reads it as root before dropping privileges.
  return dir;
}

/**
 * @param {import('../local/config.mjs').StackConfig} cfg @param {string} stage
 * @param {Record<string, string>} [overrides] values that win over the generated ones (ports, tags)
 */
export function prepareStage(cfg, stage, overrides = {}) {
  const dir = join(cfg.localDir, 'compose');
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, `nginx-${stage}.conf`);
  // Written in place (same file, same inode): nginx's container mounts this very file.
  writeFileSync(conf, nginxConf(stage, liveColor(cfg, stage)));
  let envFile = join(cfg.root, '.env');
  // With overrides (the container suite's ports and limits) the generated file is used even beside a
  // developer's .env, so the suite runs the same everywhere.
  if (!existsSync(envFile) || Object.keys(overrides).length > 0) {
    const secrets = composeSecrets(cfg);
    const pg = pgPassword(cfg);
    const values = {
      STAGE: stage,
      TAG: 'dev',
      LOG_LEVEL: 'info',
      PG_PASSWORD: pg,
      DATABASE_URL: `postgres://orders:${encodeURIComponent(pg)}@postgres:5432/orders`,
      SECRETS_DIR: secrets,
      CERTS_DIR: certificates(cfg),
      TRUSTED_PROXIES: '172.30.0.2',
      REDIS_PASSWORD: localSecret(cfg, 'redis-password'),
      KAFKA_CLUSTER_ID: localSecret(cfg, 'kafka-cluster-id', () => randomBytes(16).toString('base64url')),
      PAYMENT_PROVIDER_URL: 'http://payment-provider:8070',
      ...overrides,
    };
    envFile = join(dir, `${stage}.env`);
    writeFileSync(
      envFile,
      `${Object.entries(values)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n')}\n`,
      { mode: 0o600 },
    );
  }
  return { envFile, nginxConf: conf };
}

/**
 * @param {import('../local/config.mjs').StackConfig} cfg @param {string} stage
 * @param {{ localImages?: boolean, extraFiles?: string[], withoutGreen?: boolean }} [o]
 */
export function composeFiles(cfg, stage, o = {}) {
  const files = ['docker-compose.yml', `ops/compose/${stage}.yml`];
  if (o.localImages) files.push('ops/compose/local-images.yml', ...(stage === 'prod' ? ['ops/compose/local-images.prod.yml'] : []));
  files.push(...(o.extraFiles ?? []));
  const green = colorFiles(cfg, stage).green;
  if (!o.withoutGreen && existsSync(green)) files.push(green);
  return files.flatMap((f) => ['-f', f]);
}

/**
 * The compose command for a stage: [binary, args…] and the environment it needs.
 * @param {import('../local/config.mjs').StackConfig} cfg @param {string} stage
 * @param {{ localImages?: boolean, extraFiles?: string[], withoutGreen?: boolean, compose?: string[], overrides?: Record<string, string> }} [o]
 */
export function composeCommand(cfg, stage, o = {}) {
  const { envFile, nginxConf } = prepareStage(cfg, stage, o.overrides);
  const base = o.compose ?? ['docker', 'compose'];
  return {
    cmd: /** @type {string} */ (base[0]),
    args: [...base.slice(1), '-p', `order-platform-${stage}`, '--env-file', envFile, ...composeFiles(cfg, stage, o)],
    env: { ...process.env, NGINX_CONF: nginxConf, ENV_FILE: envFile },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const localImages = argv.includes('--local-images');
  const [stage, action = 'up', ...extra] = argv.filter((a) => a !== '--local-images');
  if (!STAGES.includes(/** @type {any} */ (stage)) || !['up', 'down', 'config', 'ps', 'logs'].includes(action)) {
    process.stderr.write(
      'usage: node ops/compose/stage.mjs dev|staging|prod [up|down|config|ps|logs] [--local-images] [docker compose args…]\n',
    );
    process.exit(2);
  }
  const cfg = stackConfig();
  /** @type {string[] | undefined} */
  let compose;
  if (localImages) {
    const { ensureCompose } = await import('../containers/engine.mjs');
    const { buildImages } = await import('../containers/build.mjs');
    if (action === 'up') await buildImages(cfg, { localBases: true });
    compose = [ensureCompose(cfg)];
  }
  const c = composeCommand(cfg, String(stage), { localImages, compose });
  const actionArgs =
    action === 'up'
      ? ['up', '-d', '--wait', ...(localImages ? ['--no-build'] : ['--build']), ...extra]
      : action === 'down'
        ? ['down', ...extra]
        : [action, ...extra];
  const r = spawnSync(c.cmd, [...c.args, ...actionArgs], { cwd: cfg.root, stdio: 'inherit', env: c.env });
  if (action === 'down' && r.status === 0) resetColors(cfg, String(stage));
  process.exit(r.status ?? 1);
}
