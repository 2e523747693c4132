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
 * The blue color is the compose files' own services; green is a generated copy of them (`<service>-green`,
 * .local/compose/<stage>-green.yml, 0600) made from the stage's merged configuration, so both colors run
 * with identical settings, networks and secrets. The live color and each color's tag are recorded
 * (.local/compose/<stage>.colors.json) and written only once nginx answers with the new color, so a failed
 * switch leaves the record (and the traffic) where it was. One switch at a time per stage (a lock file).
 * Every compose call is asynchronous: a caller (the container suite) keeps sending its load meanwhile.
 * Kubernetes does the same with two Deployments and a Service selector (ops/k8s/README.md).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stackConfig } from '../local/config.mjs';
import { COLORED, colorState, deployment, nginxConf, PROJECT, saveColorState } from './deployment.mjs';
import { composeCommand, STAGES } from './stage.mjs';

/** @param {'blue' | 'green'} color */
export function servicesOf(color) {
  return COLORED.map((s) => (color === 'green' ? `${s}-green` : s));
}

/** @param {'blue' | 'green'} c @returns {'blue' | 'green'} */
const other = (c) => (c === 'blue' ? 'green' : 'blue');

/**
 * @param {import('../local/config.mjs').StackConfig} cfg @param {string} stage
 * @param {import('./stage.mjs').ComposeOptions & { log?: (l: string) => void }} o
 */
export function blueGreen(cfg, stage, o = {}) {
  const log = o.log ?? ((l) => process.stdout.write(`[bluegreen] ${l}\n`));
  const d = deployment(cfg, stage, o.project ?? PROJECT);

  /** @param {string[]} args @param {{ withoutGreen?: boolean, env?: Record<string, string> }} [x] @returns {Promise<string>} */
  const compose = (args, x = {}) => {
    // keepNginx: the switch writes nginx.conf itself; a compose call must not re-render it meanwhile.
    const c = composeCommand(cfg, stage, { ...o, withoutGreen: x.withoutGreen, keepNginx: true });
    return new Promise((resolve, reject) => {
      const child = spawn(c.cmd, [...c.args, ...args], { cwd: cfg.root, env: { ...c.env, ...(x.env ?? {}) } });
      let out = '';
      child.stdout.on('data', (b) => (out += b));
      child.stderr.on('data', (b) => (out += b));
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0 ? resolve(out) : reject(new Error(`docker compose ${args.join(' ')} failed (${code}):\n${out.slice(-3000)}`)),
      );
    });
  };

  /** The green copies of the blue services, from the stage's merged configuration, on `tag`. @param {string} tag */
  const writeGreen = async (tag) => {
    const merged = JSON.parse(await compose(['config', '--format', 'json'], { withoutGreen: true }));
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
    // JSON is YAML: compose reads this file like the stage's own. It holds the services' environment
    // (credentials included): owner-only.
    writeFileSync(d.green, JSON.stringify({ services }, null, 2), { mode: 0o600 });
  };

  /** nginx's /nginx-health names the color its workers serve. */
  const nginxColor = async () => {
    const out = await compose(['exec', '-T', 'nginx', 'wget', '-q', '-O', '-', 'http://127.0.0.1/nginx-health']).catch(() => '');
    return out.trim();
  };

  /**
   * Points nginx at a color: render, check, reload, and wait until nginx answers with it; on any failure
   * the previous configuration is put back and reloaded. @param {'blue' | 'green'} color @param {'blue' | 'green'} from
   */
  const switchNginx = async (color, from) => {
    writeFileSync(d.nginx, nginxConf(stage, color));
    try {
      await compose(['exec', '-T', 'nginx', 'nginx', '-t', '-q']);
      await compose(['exec', '-T', 'nginx', 'nginx', '-s', 'reload']);
      const deadline = Date.now() + 15_000;
      while ((await nginxColor()) !== `ok ${color}`) {
        if (Date.now() > deadline) throw new Error(`nginx did not answer as ${color} within 15 s`);
        await sleep(100);
      }
    } catch (err) {
      writeFileSync(d.nginx, nginxConf(stage, from));
      await compose(['exec', '-T', 'nginx', 'nginx', '-s', 'reload']).catch(() => {});
      throw err;
    }
    log(`nginx now sends traffic to ${color}`);
  };

  /** One switch at a time per stage. @template T @param {() => Promise<T>} fn @returns {Promise<T>} */
  const locked = async (fn) => {
    let fd;
    try {
      fd = openSync(d.lock, 'wx', 0o600);
    } catch {
      throw new Error(`another blue-green switch of ${stage} is running (${d.lock}); remove it if that process is gone`);
    }
    try {
      return await fn();
    } finally {
      closeSync(fd);
      rmSync(d.lock, { force: true });
    }
  };

  return {
    async status() {
      const ps = await compose(['ps', '--format', '{{.Service}} {{.State}} {{.Health}}']);
      return { ...colorState(d), containers: ps.trim().split('\n').filter(Boolean) };
    },

    /** @param {string} tag */
    deploy(tag) {
      return locked(async () => {
        const state = colorState(d);
        const live = state.live;
        const target = other(live);
        const started = Date.now();
        log(`${stage}: ${live} is live; starting ${target} on tag ${tag}`);
        if (target === 'green') await writeGreen(tag);
        try {
          await compose(['up', '-d', '--no-deps', '--wait', '--no-build', '--force-recreate', ...servicesOf(target)], {
            env: target === 'blue' ? { TAG: tag } : {},
          });
        } catch (err) {
          // Health gate: a color that does not get healthy never receives traffic.
          await compose(['stop', '-t', '10', ...servicesOf(target)]).catch(() => {});
          throw new Error(`${target} did not become healthy; ${live} stays live.\n${String(err)}`);
        }
        const healthyAfterS = (Date.now() - started) / 1000;
        await switchNginx(target, live);
        saveColorState(d, { live: target, tags: { ...state.tags, [target]: tag } });
        await compose(['stop', '-t', '30', ...servicesOf(live)]);
        const totalS = (Date.now() - started) / 1000;
        log(`${live} drained and stopped; ${target} is live (healthy after ${healthyAfterS.toFixed(1)} s, done in ${totalS.toFixed(1)} s)`);
        return { from: live, to: target, tag, healthyAfterS, totalS };
      });
    },

    rollback() {
      return locked(async () => {
        const state = colorState(d);
        const live = state.live;
        const target = other(live);
        if (target === 'green' && !state.tags.green) throw new Error(`${stage}: green was never deployed; nothing to roll back to`);
        const started = Date.now();
        log(`${stage}: rolling back from ${live} to ${target}`);
        // The previous color's stopped containers, as they were; recreated on its recorded tag if they are gone.
        await compose(['up', '-d', '--no-deps', '--wait', '--no-build', '--no-recreate', ...servicesOf(target)], {
          env: target === 'blue' && state.tags.blue ? { TAG: state.tags.blue } : {},
        });
        await switchNginx(target, live);
        saveColorState(d, { ...state, live: target });
        await compose(['stop', '-t', '30', ...servicesOf(live)]);
        const totalS = (Date.now() - started) / 1000;
        log(`rolled back to ${target} in ${totalS.toFixed(1)} s`);
        return { from: live, to: target, totalS };
      });
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
  const out = action === 'deploy' ? await bg.deploy(String(values.tag)) : action === 'rollback' ? await bg.rollback() : await bg.status();
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}
