// @ts-check
/**
 * A compose deployment's own state: the folder of its generated files, which color is live (blue-green,
 * ops/compose/bluegreen.mjs), and the nginx.conf whose upstreams name that color.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderNginx } from '../nginx/render.mjs';

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
