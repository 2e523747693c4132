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
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jwtKeyFiles, localSecret, pgPassword, stackConfig, webhookKeyFile } from '../local/config.mjs';
import { run } from '../local/lib/proc.mjs';
import { renderNginx } from '../nginx/render.mjs';

export const STAGES = /** @type {const} */ (['dev', 'staging', 'prod']);

/**
 * Blue-green (ops/compose/bluegreen.mjs): the stateless services run as `blue` (the services of the compose
 * files) or `green` (copies named <service>-green in a generated file beside the stage's); nginx's
 * upstreams name the live color. Recorded per stage (live color, each color's image tag) so a re-render,
 * an nginx restart or a later `up` keeps what was deployed.
 */
export const COLORED = /** @type {const} */ (['gateway', 'ws-edge', 'workers-pipeline', 'workers-webhooks']);

/** The default compose project prefix; the container suite uses its own, so it never touches yours. */
export const PROJECT = 'order-platform';

/**
 * Where a deployment keeps its generated files (0700: the env file and the green file hold credentials).
 * @param {import('../local/config.mjs').StackConfig} cfg @param {string} stage @param {string} [project]
 */
export function deployment(cfg, stage, project = PROJECT) {
  const dir = project === PROJECT ? join(cfg.localDir, 'compose') : join(cfg.localDir, 'compose', project);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return {
    stage,
    name: `${project}-${stage}`,
    dir,
    colors: join(dir, `${stage}.colors.json`),
    green: join(dir, `${stage}-green.yml`),
    lock: join(dir, `${stage}.bluegreen.lock`),
    nginx: join(dir, `nginx-${stage}.conf`),
    env: join(dir, `${stage}.env`),
  };
}
/** @typedef {ReturnType<typeof deployment>} Deployment */

/** @param {Deployment} d @returns {{ live: 'blue' | 'green', tags: { blue?: string, green?: string } }} */
export function colorState(d) {
  if (!existsSync(d.colors)) return { live: 'blue', tags: {} };
  const s = JSON.parse(readFileSync(d.colors, 'utf8'));
  return { live: s.live === 'green' ? 'green' : 'blue', tags: s.tags ?? {} };
}

/** @param {Deployment} d @param {ReturnType<typeof colorState>} state */
export function saveColorState(d, state) {
  writeFileSync(`${d.colors}.tmp`, JSON.stringify(state), { mode: 0o600 });
  renameSync(`${d.colors}.tmp`, d.colors);
}

/** Forgets the colors (a stage taken down starts blue again). @param {Deployment} d */
export function resetColors(d) {
  for (const f of [d.colors, d.green, d.lock]) rmSync(f, { force: true });
}

/**
 * nginx.conf for a stage, its upstreams on the given color; `/nginx-health` answers with the color, so a
 * switch can see when the reload has taken effect. @param {string} stage @param {'blue' | 'green'} color
 */
export function nginxConf(stage, color) {
  const tls = stage !== 'dev';
  const suffix = color === 'green' ? '-green' : '';
  return renderNginx({
    listen: tls ? '443' : '80',
    gateways: [`gateway${suffix}:8080`],
    edges: [`ws-edge${suffix}:8090`],
    tls: tls ? { cert: '/etc/nginx/certs/tls.crt', key: '/etc/nginx/certs/tls.key' } : undefined,
    healthBody: `ok ${color}`,
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
  // The folder is 0700 (no other host user gets in); the files 0644 so the containers' users can read the
  // bind-mounted copies. Only the files docker-compose.yml names as secrets.
  const dir = join(cfg.localDir, 'compose', 'secrets');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const f of COMPOSE_SECRET_FILES) {
    copyFileSync(join(cfg.secretsDir, f), join(dir, f));
    chmodSync(join(dir, f), 0o644);
  }
  return dir;
}

const COMPOSE_SECRET_FILES = [
  'jwt-signing.jwk.json',
  'jwt-public.jwks.json',
  'webhook-secret.key',
  'pg-password',
  'pg-replication-password',
  'grafana-admin-password',
];

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
 * @param {import('../local/config.mjs').StackConfig} cfg @param {Deployment} d
 * @param {Record<string, string>} [overrides] values that win over the generated ones (ports, limits)
 */
export function prepareStage(cfg, d, overrides = {}, keepNginx = false) {
  const { stage } = d;
  const conf = d.nginx;
  // Rendered from the recorded live color (written in place: nginx's container mounts this very file),
  // except while a blue-green switch owns it (keepNginx).
  if (!keepNginx || !existsSync(conf)) writeFileSync(conf, nginxConf(stage, colorState(d).live));
  let envFile = join(cfg.root, '.env');
  // With overrides (the container suite's ports and limits) the generated file is used even beside a
  // developer's .env, so the suite runs the same everywhere.
  if (!existsSync(envFile) || Object.keys(overrides).length > 0) {
    const secrets = composeSecrets(cfg);
    const pg = pgPassword(cfg);
    const values = {
      DEPLOY_STAGE: stage,
      TAG: 'dev',
      LOG_LEVEL: 'info',
      PG_PASSWORD: pg,
      DATABASE_URL: `postgres://orders:${encodeURIComponent(pg)}@postgres:5432/orders`,
      SECRETS_DIR: secrets,
      CERTS_DIR: certificates(cfg),
      TRUSTED_PROXIES: '172.30.0.2',
      REDIS_PASSWORD: localSecret(cfg, 'redis-password'),
      KAFKA_CLUSTER_ID: localSecret(cfg, 'kafka-cluster-id', () => randomBytes(16).toString('base64url')),
      // dev and staging run the simulator; prod must be told its real provider (prod.yml refuses to start
      // without PAYMENT_PROVIDER_URL).
      ...(stage === 'prod' ? {} : { PAYMENT_PROVIDER_URL: 'http://payment-provider:8070' }),
      ...overrides,
    };
    envFile = d.env;
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
 * @param {Deployment} d
 * @param {{ localImages?: boolean, extraFiles?: string[], withoutGreen?: boolean }} [o]
 */
export function composeFiles(d, o = {}) {
  const { stage } = d;
  const files = ['docker-compose.yml', `ops/compose/${stage}.yml`];
  if (o.localImages) files.push('ops/compose/local-images.yml', ...(stage === 'prod' ? ['ops/compose/local-images.prod.yml'] : []));
  files.push(...(o.extraFiles ?? []));
  if (!o.withoutGreen && existsSync(d.green)) files.push(d.green);
  return files.flatMap((f) => ['-f', f]);
}

/**
 * @typedef {{ localImages?: boolean, extraFiles?: string[], withoutGreen?: boolean, compose?: string[],
 *   overrides?: Record<string, string>, project?: string, keepNginx?: boolean }} ComposeOptions
 */

/**
 * The compose command for a stage: [binary, args…] and the environment it needs. Blue's image tag is the
 * one last deployed to it (blue-green), else TAG from the env file.
 * @param {import('../local/config.mjs').StackConfig} cfg @param {string} stage @param {ComposeOptions} [o]
 */
export function composeCommand(cfg, stage, o = {}) {
  const d = deployment(cfg, stage, o.project);
  const { envFile, nginxConf } = prepareStage(cfg, d, o.overrides, o.keepNginx);
  const base = o.compose ?? ['docker', 'compose'];
  const blueTag = colorState(d).tags.blue;
  return {
    cmd: /** @type {string} */ (base[0]),
    args: [...base.slice(1), '-p', d.name, '--env-file', envFile, ...composeFiles(d, o)],
    env: { ...process.env, NGINX_CONF: nginxConf, ENV_FILE: envFile, ...(blueTag ? { TAG: blueTag } : {}) },
    deployment: d,
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
  // After a blue-green switch, `up` brings up everything but the idle color (which would otherwise join the
  // consumer groups beside the live one).
  /** @type {string[]} */
  let only = [];
  if (action === 'up' && existsSync(c.deployment.colors) && extra.length === 0) {
    const idle = colorState(c.deployment).live === 'blue' ? '-green' : '';
    const all = spawnSync(c.cmd, [...c.args, 'config', '--services'], { cwd: cfg.root, env: c.env, encoding: 'utf8' }).stdout;
    const skip = new Set(COLORED.map((s) => `${s}${idle}`));
    only = all.split('\n').filter((s) => s && !skip.has(s));
  }
  const actionArgs =
    action === 'up'
      ? ['up', '-d', '--wait', ...(localImages ? ['--no-build'] : ['--build']), ...extra, ...only]
      : action === 'down'
        ? ['down', ...extra]
        : [action, ...extra];
  const r = spawnSync(c.cmd, [...c.args, ...actionArgs], { cwd: cfg.root, stdio: 'inherit', env: c.env });
  if (action === 'down' && r.status === 0) resetColors(c.deployment);
  process.exit(r.status ?? 1);
}
