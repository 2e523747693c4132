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
 * generated under .local/compose/ from the generated secrets (./stage-files.mjs; the deployment's folder
 * and live color: ./deployment.mjs).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stackConfig } from '../local/config.mjs';
import { COLORED, colorState, deployment, resetColors } from './deployment.mjs';
import { prepareStage } from './stage-files.mjs';

// Still importable from here, as before the split (the container suite imports this file).
export { COLORED, colorState, deployment, nginxConf, PROJECT, resetColors, saveColorState } from './deployment.mjs';
export { prepareStage } from './stage-files.mjs';

/** @typedef {import('./deployment.mjs').Deployment} Deployment */

export const STAGES = /** @type {const} */ (['dev', 'staging', 'prod']);

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
