// @ts-check
/**
 * Prometheus from Debian's package (2.42 on bookworm), run by the stack itself (not the distribution's
 * service) on 127.0.0.1:PROMETHEUS_PORT, on demand: `npm run observability -- up`, and the telemetry suite.
 *
 * Its configuration is generated into .local/prometheus from the project's own
 * ops/observability/prometheus/prometheus.yml, so the alert rules see the same series they will in
 * production: every job keeps its name, metrics path and relabelling; only where targets come from
 * changes. The compose DNS discovery becomes file discovery (.local/prometheus/targets/<job>/*.json), whose
 * default.json holds the local service: its `npm start` port (cfg.services), or in test mode its test port
 * (cfg.testServices). More processes of a job (several workers on further metrics ports) join with
 * `addTargets`, a file of their own there, which Prometheus picks up within seconds, without a restart.
 *
 * Rules: the project's alerts.yml as it is, with the project's intervals (15 s scrapes and evaluations, so
 * a range query finer than that repeats samples). Test mode instead loads a generated copy in which every
 * `for:` is TEST_FOR, and scrapes and evaluates every second: the expressions are the same, so the
 * telemetry suite proves they fire on real signals, not that the production durations are right
 * (promtool's rule tests in ops/observability/rules.test.yml cover those). Test mode also starts from
 * an empty TSDB each time; the dev TSDB persists under .local/data/prometheus (RETENTION).
 *
 * One Prometheus at a time: `up` in the other mode restarts it in the mode asked for.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { asRoot, ensureAptPackages, log, run, runningPid, startDetached, stopProcess, waitFor, which } from '../lib/proc.mjs';

const NAME = 'prometheus';
/** Every alert's `for:` in test mode: long enough to prove the pending → firing step, short enough for a suite. */
export const TEST_FOR = '5s';
const RETENTION = { dev: '3d', test: '2h' };

/**
 * Where each of the project's jobs finds its local target: a port of cfg.services / cfg.testServices.
 * A job the project adds must be mapped here, or `up` refuses (a silently unscraped job would hide alerts).
 * @type {Record<string, 'gatewayPort' | 'wsEdgePort' | 'workerMetricsPort'>}
 */
const JOB_PORTS = { gateway: 'gatewayPort', 'ws-edge': 'wsEdgePort', workers: 'workerMetricsPort' };
/** Prometheus scraping itself, as the project's config has it. */
const SELF_JOB = 'prometheus';

/** @typedef {'dev' | 'test'} Mode */

/** @param {import('../config.mjs').StackConfig} cfg */
export function url(cfg) {
  return `http://${cfg.host}:${cfg.observability.prometheusPort}`;
}

/** @param {import('../config.mjs').StackConfig} cfg */
function paths(cfg) {
  const dir = join(cfg.localDir, 'prometheus');
  return {
    dir,
    config: join(dir, 'prometheus.json'),
    testRules: join(dir, 'alerts.test.yml'),
    targets: join(dir, 'targets'),
    mode: join(dir, 'mode'),
    project: join(cfg.root, 'ops', 'observability', 'prometheus'),
    /** @param {Mode} mode */
    tsdb: (mode) => join(cfg.dataDir, mode === 'test' ? 'prometheus-test' : 'prometheus'),
  };
}

/**
 * The project's prometheus.yml as an object. Node has no YAML parser and the stack's scripts no
 * dependencies, so the pinned Bun every service already runs on reads it (Bun.YAML).
 * @param {import('../config.mjs').StackConfig} cfg @param {string} file @returns {Record<string, unknown>}
 */
function readYaml(cfg, file) {
  const bun = join(cfg.root, 'node_modules', '.bin', 'bun');
  if (!existsSync(bun)) throw new Error(`${bun} is missing: run npm ci first`);
  const script = 'process.stdout.write(JSON.stringify(Bun.YAML.parse(require("node:fs").readFileSync(process.argv[1], "utf8"))))';
  return JSON.parse(run(bun, ['-e', script, file]).stdout);
}

/**
 * The local configuration: the project's, with file discovery in place of DNS and, in test mode, 1 s
 * intervals and the shortened rules. Written as JSON, which Prometheus reads as the YAML it is.
 * @param {import('../config.mjs').StackConfig} cfg @param {Mode} mode @param {Record<string, unknown>} project its prometheus.yml
 */
function generateConfig(cfg, mode, project) {
  const p = paths(cfg);
  const global = /** @type {Record<string, unknown>} */ ({ .../** @type {object} */ (project.global ?? {}) });
  if (mode === 'test') Object.assign(global, { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' });
  const jobs = /** @type {Record<string, unknown>[]} */ (project.scrape_configs ?? []);
  const scrapeConfigs = jobs.map((job) => {
    const name = String(job.job_name);
    if (name !== SELF_JOB && !(name in JOB_PORTS))
      throw new Error(
        `prometheus.yml has a job "${name}" the local stack does not know: map it in ops/local/components/prometheus.mjs (JOB_PORTS)`,
      );
    // Everything but where targets come from stays: metrics path, relabelling, labels the rules rely on.
    const local = Object.fromEntries(Object.entries(job).filter(([key]) => !key.endsWith('_sd_configs') && key !== 'static_configs'));
    if (mode === 'test') {
      delete local.scrape_interval;
      delete local.scrape_timeout;
    }
    return { ...local, file_sd_configs: [{ files: [join(p.targets, name, '*.json')], refresh_interval: '5s' }] };
  });
  const rules = /** @type {string[]} */ (project.rule_files ?? []);
  if (mode === 'test' && rules.length !== 1) throw new Error(`test mode shortens one rule file; prometheus.yml names ${rules.length}`);
  return {
    global,
    rule_files: mode === 'test' ? [p.testRules] : rules.map((r) => join(p.project, r)),
    scrape_configs: scrapeConfigs,
  };
}

/**
 * The project's alert rules with every `for:` set to TEST_FOR; the expressions, labels and annotations
 * are the file's own, line for line.
 * @param {import('../config.mjs').StackConfig} cfg @param {string} ruleFile
 */
function shortenedRules(cfg, ruleFile) {
  const source = readFileSync(join(paths(cfg).project, ruleFile), 'utf8');
  let shortened = 0;
  const body = source.replace(/^(\s+)for:\s*(\S+)\s*$/gm, (_line, indent, was) => {
    shortened++;
    return `${indent}for: ${TEST_FOR} # ${was} in production`;
  });
  if (shortened === 0) throw new Error(`${ruleFile}: no \`for:\` found to shorten`);
  const header = [
    `# GENERATED for the telemetry suite from ops/observability/prometheus/${ruleFile}: every \`for:\` is ${TEST_FOR}`,
    '# (scrapes and evaluations every 1 s). Same expressions: the suite proves they fire on real signals, not',
    '# the production durations (ops/observability/rules.test.yml tests those with promtool). Do not edit.',
    '',
  ];
  return header.join('\n') + body;
}

/** @param {import('../config.mjs').StackConfig} cfg @param {Mode} mode */
function defaultTargets(cfg, mode) {
  const ports = mode === 'test' ? cfg.testServices : cfg.services;
  /** @type {Record<string, string[]>} */
  const targets = { [SELF_JOB]: [`${cfg.host}:${cfg.observability.prometheusPort}`] };
  for (const [job, key] of Object.entries(JOB_PORTS)) targets[job] = [`${cfg.host}:${ports[key]}`];
  return targets;
}

/** @param {string} file @param {string[]} addresses */
function writeTargets(file, addresses) {
  writeFileSync(file, `${JSON.stringify([{ targets: addresses, labels: {} }], null, 2)}\n`);
}

/**
 * More targets for a job, e.g. a second workers process on another metrics port: a file_sd file of its
 * own beside the job's default one, picked up within seconds (until Prometheus is restarted).
 * @param {import('../config.mjs').StackConfig} cfg @param {string} job @param {string} name @param {string[]} addresses host:port each
 */
export function addTargets(cfg, job, name, addresses) {
  if (!(job in JOB_PORTS)) throw new Error(`unknown job "${job}" (known: ${Object.keys(JOB_PORTS).join(', ')})`);
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`target set name "${name}" must be [a-z0-9-]+`);
  if (name === 'default') throw new Error('"default" is the target set of the local service itself');
  mkdirSync(join(paths(cfg).targets, job), { recursive: true });
  writeTargets(join(paths(cfg).targets, job, `${name}.json`), addresses);
}

/** @param {import('../config.mjs').StackConfig} cfg @param {string} job @param {string} name */
export function removeTargets(cfg, job, name) {
  rmSync(join(paths(cfg).targets, job, `${name}.json`), { force: true });
}

/** The mode the running Prometheus of this stack was started in, or null when none runs. @param {import('../config.mjs').StackConfig} cfg */
export function runningMode(cfg) {
  if (runningPid(cfg, NAME) === null) return null;
  const file = paths(cfg).mode;
  return existsSync(file) ? /** @type {Mode} */ (readFileSync(file, 'utf8').trim()) : null;
}

/** @param {string} base */
async function ready(base) {
  const res = await fetch(`${base}/-/ready`, { signal: AbortSignal.timeout(1_000) });
  return res.ok;
}

/** @param {import('../config.mjs').StackConfig} cfg */
function ensureInstalled(cfg) {
  if (which('prometheus')) return false;
  ensureAptPackages([{ pkg: 'prometheus', probe: () => which('prometheus') !== null }]);
  log(`installed Debian's prometheus; the stack runs its own on ${url(cfg)}, not the distribution's service`);
  return true;
}

/** Each job's default.json: the local service. Extra sets (`addTargets`) stay unless `fresh`. @param {import('../config.mjs').StackConfig} cfg @param {Mode} mode @param {boolean} fresh */
function writeDefaultTargets(cfg, mode, fresh) {
  const dir = paths(cfg).targets;
  if (fresh) rmSync(dir, { recursive: true, force: true });
  for (const [job, addresses] of Object.entries(defaultTargets(cfg, mode))) {
    mkdirSync(join(dir, job), { recursive: true });
    writeTargets(join(dir, job, 'default.json'), addresses);
  }
}

/**
 * Starts Prometheus (installing Debian's package when missing) and waits until /-/ready answers. Already
 * running in the same mode with the same configuration: left running (its targets refreshed).
 * @param {import('../config.mjs').StackConfig} cfg @param {{ test?: boolean }} [opts]
 * @returns {Promise<{ url: string }>}
 */
export async function up(cfg, opts = {}) {
  /** @type {Mode} */
  const mode = opts.test ? 'test' : 'dev';
  const base = url(cfg);
  const justInstalled = ensureInstalled(cfg);
  const p = paths(cfg);
  const project = readYaml(cfg, join(p.project, 'prometheus.yml'));
  const config = `${JSON.stringify(generateConfig(cfg, mode, project), null, 2)}\n`;
  const rules = mode === 'test' ? shortenedRules(cfg, String(/** @type {string[]} */ (project.rule_files)[0])) : '';
  /** @param {string} file @param {string} text */
  const same = (file, text) => existsSync(file) && readFileSync(file, 'utf8') === text;
  if (
    runningMode(cfg) === mode &&
    same(p.config, config) &&
    (mode === 'dev' || same(p.testRules, rules)) &&
    (await ready(base).catch(() => false))
  ) {
    writeDefaultTargets(cfg, mode, false);
    return { url: base };
  }
  if (runningPid(cfg, NAME) !== null) {
    log(`restarting Prometheus (running in ${runningMode(cfg)} mode, wanted ${mode}, or its configuration changed)`);
    await stopProcess(cfg, NAME, 10_000);
  }
  if (await ready(base).catch(() => false)) {
    if (!justInstalled)
      throw new Error(`${base} already answers, but not with a Prometheus this stack started: stop it or set PROMETHEUS_PORT`);
    // The package's postinst may have started the distribution's service on the same port: not ours to keep.
    log("stopping the distribution's prometheus service that the install started");
    const [bin, ...rest] = [...asRoot(), 'sh', '-c', 'service prometheus stop || systemctl stop prometheus || true'];
    run(/** @type {string} */ (bin), rest, { allowFail: true });
    await waitFor('the distribution Prometheus to stop', async () => !(await ready(base).catch(() => false)), { timeoutMs: 15_000 });
  }

  mkdirSync(p.dir, { recursive: true });
  writeDefaultTargets(cfg, mode, true);
  if (mode === 'test') writeFileSync(p.testRules, rules);
  writeFileSync(p.config, config);
  writeFileSync(p.mode, mode);
  const tsdb = p.tsdb(mode);
  if (mode === 'test') rmSync(tsdb, { recursive: true, force: true });
  mkdirSync(tsdb, { recursive: true });

  const bin = /** @type {string} */ (which('prometheus'));
  const { logPath } = startDetached(cfg, NAME, bin, [
    `--config.file=${p.config}`,
    `--web.listen-address=${cfg.host}:${cfg.observability.prometheusPort}`,
    `--storage.tsdb.path=${tsdb}`,
    `--storage.tsdb.retention.time=${RETENTION[mode]}`,
    '--storage.tsdb.retention.size=512MB',
  ]);
  const ms = await waitFor('Prometheus', async () => (await ready(base)) && runningPid(cfg, NAME) !== null, {
    timeoutMs: 30_000,
    logPath,
    alive: () => runningPid(cfg, NAME) !== null,
  });
  log(`Prometheus ready on ${base} in ${ms} ms (${mode} mode, scraping ${Object.keys(JOB_PORTS).join(', ')})`);
  return { url: base };
}

/** @param {import('../config.mjs').StackConfig} cfg */
export function down(cfg) {
  return stopProcess(cfg, NAME, 10_000);
}

/** @param {import('../config.mjs').StackConfig} cfg */
export async function status(cfg) {
  const base = url(cfg);
  const pid = runningPid(cfg, NAME);
  if (!(await ready(base).catch(() => false))) return `not answering on ${base}${pid ? ` (pid ${pid} starting?)` : ''}`;
  if (pid === null) return `answering on ${base} (not started by this stack)`;
  /** @param {string} path */
  const get = async (path) => (await (await fetch(`${base}${path}`, { signal: AbortSignal.timeout(2_000) })).json()).data;
  try {
    const targets = /** @type {{ activeTargets: { health: string }[] }} */ (await get('/api/v1/targets?state=active')).activeTargets;
    const alerts = /** @type {{ alerts: { state: string }[] }} */ (await get('/api/v1/alerts')).alerts;
    const dir = paths(cfg).targets;
    const extra = readdirSync(dir).reduce((n, job) => n + readdirSync(join(dir, job)).filter((f) => f !== 'default.json').length, 0);
    const up = targets.filter((t) => t.health === 'up').length;
    const firing = alerts.filter((a) => a.state === 'firing').length;
    return `answering on ${base} (pid ${pid}, ${runningMode(cfg)} mode): ${up}/${targets.length} targets up${extra ? ` (${extra} added target files)` : ''}, ${firing} alert(s) firing`;
  } catch (err) {
    return `answering on ${base} (pid ${pid}); its API failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}
