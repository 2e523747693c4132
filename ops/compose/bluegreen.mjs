#!/usr/bin/env node
// @ts-check
/**
 * Blue-green deployment of a compose stage's stateless services (gateway, ws-edge, both worker groups):
 *
 *   node ops/compose/bluegreen.mjs <stage> deploy --tag <image tag> [--local-images]
 *   node ops/compose/bluegreen.mjs <stage> rollback [--local-images]
 *   node ops/compose/bluegreen.mjs <stage> status [--local-images]
 *
 * deploy: the idle color is started beside the live one on the new tag and waited for until every
 *   container's health check passes (`up --wait`: a green that never gets healthy is stopped, and nothing
 *   else changes); nginx's upstreams are re-rendered to the new color, checked (`nginx -t`) and reloaded
 *   (graceful: requests in flight finish on the old workers); then the old color is stopped with SIGTERM,
 *   which drains it: gateways finish their requests, edges close their sockets (clients reconnect through
 *   nginx to the new edges and resume after their last sequence), workers leave their consumer groups
 *   (their partitions move to the new workers; effects are de-duplicated by event id).
 * rollback: the old color's stopped containers are started again (same images), health-gated, nginx is
 *   switched back, and the color that was live is drained the same way.
 *
 * The blue color is the compose files' own services (image tag ${TAG}); green is a generated copy of them
 * (`<service>-green`, .local/compose/<stage>-green.yml) made from the stage's merged configuration, so both
 * colors run with identical settings, networks and secrets. Kubernetes does the same with two Deployments
 * and a Service selector (ops/k8s/README.md).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stackConfig } from '../local/config.mjs';
import { COLORED, colorFiles, composeCommand, liveColor, prepareStage, STAGES } from './stage.mjs';

/** @param {'blue' | 'green'} color */
export function servicesOf(color) {
  return COLORED.map((s) => (color === 'green' ? `${s}-green` : s));
}

/**
 * @param {import('../local/config.mjs').StackConfig} cfg @param {string} stage
 * @param {{ localImages?: boolean, compose?: string[], extraFiles?: string[], overrides?: Record<string, string>, log?: (l: string) => void }} o
 */
export function blueGreen(cfg, stage, o = {}) {
  const log = o.log ?? ((l) => process.stdout.write(`[bluegreen] ${l}\n`));
  /** @param {string[]} args @param {{ withoutGreen?: boolean, env?: Record<string, string> }} [x] */
  const compose = (args, x = {}) => {
    const c = composeCommand(cfg, stage, { ...o, withoutGreen: x.withoutGreen });
    const r = spawnSync(c.cmd, [...c.args, ...args], {
      cwd: cfg.root,
      env: { ...c.env, ...(x.env ?? {}) },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(`docker compose ${args.join(' ')} failed:\n${`${r.stdout}${r.stderr}`.slice(-3000)}`);
    return r.stdout;
  };

  /** The green copies of the blue services, from the stage's merged configuration, on `tag`. @param {string} tag */
  const writeGreen = (tag) => {
    const merged = JSON.parse(compose(['config', '--format', 'json'], { withoutGreen: true }));
    /** @type {Record<string, unknown>} */
    const services = {};
    for (const name of COLORED) {
      const s = { ...merged.services[name] };
      if (!s.image) throw new Error(`${name} has no image`);
      s.image = String(s.image).replace(/:[^:/]+$/, `:${tag}`);
      // The infrastructure is up already; the green set only needs itself.
      delete s.depends_on;
      delete s.build;
      delete s.container_name;
      services[`${name}-green`] = s;
    }
    // JSON is YAML: compose reads this file like the stage's own.
    writeFileSync(colorFiles(cfg, stage).green, JSON.stringify({ services }, null, 2));
  };

  /** Points nginx at a color: re-render, check, reload (graceful). @param {'blue' | 'green'} color */
  const switchNginx = (color) => {
    writeFileSync(colorFiles(cfg, stage).live, color);
    prepareStage(cfg, stage, o.overrides);
    compose(['exec', '-T', 'nginx', 'nginx', '-t', '-q']);
    compose(['exec', '-T', 'nginx', 'nginx', '-s', 'reload']);
    // nginx's new workers resolve the new color's names as they start; give them a moment.
    spawnSync('sleep', ['1']);
    log(`nginx now sends traffic to ${color}`);
  };

  return {
    status() {
      const live = liveColor(cfg, stage);
      const ps = compose(['ps', '--format', '{{.Service}} {{.State}} {{.Health}}']);
      return { live, containers: ps.trim().split('\n').filter(Boolean) };
    },

    /** @param {string} tag */
    deploy(tag) {
      const live = liveColor(cfg, stage);
      const target = live === 'blue' ? 'green' : 'blue';
      const started = Date.now();
      log(`${stage}: ${live} is live; starting ${target} on tag ${tag}`);
      if (target === 'green') writeGreen(tag);
      const env = target === 'blue' ? { TAG: tag } : undefined;
      try {
        compose(['up', '-d', '--no-deps', '--wait', '--no-build', '--force-recreate', ...servicesOf(target)], { env });
      } catch (err) {
        // Health gate: a color that does not get healthy never receives traffic.
        compose(['stop', '-t', '10', ...servicesOf(target)]);
        throw new Error(`${target} did not become healthy; ${live} stays live.\n${String(err)}`);
      }
      const healthyAfter = (Date.now() - started) / 1000;
      switchNginx(target);
      compose(['stop', '-t', '30', ...servicesOf(live)]);
      log(
        `${live} drained and stopped; ${target} is live (healthy after ${healthyAfter.toFixed(1)} s, done in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
      );
      return { from: live, to: target, healthyAfterS: healthyAfter, totalS: (Date.now() - started) / 1000 };
    },

    rollback() {
      const live = liveColor(cfg, stage);
      const target = live === 'blue' ? 'green' : 'blue';
      const started = Date.now();
      log(`${stage}: rolling back from ${live} to ${target}`);
      // The stopped containers of the previous color, as they were (same images).
      compose(['up', '-d', '--no-deps', '--wait', '--no-build', '--no-recreate', ...servicesOf(target)]);
      switchNginx(target);
      compose(['stop', '-t', '30', ...servicesOf(live)]);
      log(`rolled back to ${target} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return { from: live, to: target, totalS: (Date.now() - started) / 1000 };
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { tag: { type: 'string' }, 'local-images': { type: 'boolean', default: false } },
  });
  const [stage, action] = positionals;
  if (
    !STAGES.includes(/** @type {any} */ (stage)) ||
    !['deploy', 'rollback', 'status'].includes(String(action)) ||
    (action === 'deploy' && !values.tag)
  ) {
    process.stderr.write('usage: node ops/compose/bluegreen.mjs dev|staging|prod deploy --tag T | rollback | status [--local-images]\n');
    process.exit(2);
  }
  const cfg = stackConfig();
  /** @type {string[] | undefined} */
  let compose;
  if (values['local-images']) compose = [(await import('../containers/engine.mjs')).ensureCompose(cfg)];
  const bg = blueGreen(cfg, String(stage), { localImages: values['local-images'], compose });
  const out = action === 'deploy' ? bg.deploy(String(values.tag)) : action === 'rollback' ? bg.rollback() : bg.status();
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}
