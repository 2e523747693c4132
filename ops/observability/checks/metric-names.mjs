// @ts-check
/**
 * Check: every `orders_*` metric name used by the alerts, the rule unit tests and the dashboards is
 * created in the services' code (gateway, ws-edge, workers, platform), with its histogram suffixes and
 * the prom-client default metrics, and every label matcher on such a selector names a label the metric
 * really has (its labelNames, or service/job/instance, or le on _bucket).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { files, repoRoot } from './files.mjs';
import { fail, ok, rel } from './report.mjs';

/** @typedef {import('./dashboards.mjs').Query} Query */

const SERVICE_DIRS = ['gateway', 'ws-edge', 'workers', 'platform'];
/** Labels every scraped series may carry besides its own: the registry default and the target labels. */
const COMMON_LABELS = new Set(['service', 'job', 'instance']);

/**
 * The metrics the services create: name -> label names (undefined: labels not checked).
 * @returns {Map<string, Set<string> | undefined> | undefined}
 */
function knownMetrics() {
  const roots = SERVICE_DIRS.map((d) => join(repoRoot, d, 'src')).filter((d) => existsSync(d));
  if (roots.length === 0) {
    fail(`no service sources under ${repoRoot} (${SERVICE_DIRS.join(', ')}/src); set ORDERS_REPO_ROOT`);
    return undefined;
  }
  const metricsTs = join(repoRoot, 'platform', 'src', 'metrics.ts');
  const metricsSrc = existsSync(metricsTs) ? readFileSync(metricsTs, 'utf8') : '';
  const prefix = /name:\s*`([A-Za-z0-9_:]*)\$\{name\}`/.exec(metricsSrc)?.[1] ?? '';
  const defaultsPrefix = /collectDefaultMetrics\([^)]*prefix:\s*['"]([A-Za-z0-9_:]*)['"]/.exec(metricsSrc)?.[1];

  /** @type {Map<string, Set<string> | undefined>} */
  const known = new Map();
  // .counter('name', 'help', ['label', ...]) and the same for gauge and histogram.
  const def =
    /\.(counter|gauge|histogram)\(\s*(['"`])([A-Za-z_:][A-Za-z0-9_:]*)\2\s*,\s*(['"`])(?:(?!\4)[^\\]|\\.)*\4\s*(?:,\s*\[([^\]]*)\])?/g;
  /** @param {string} dir */
  const scan = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'test') scan(p);
      } else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && !/\.(test|spec)\.[mc]?[jt]s$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        const src = readFileSync(p, 'utf8');
        for (const m of src.matchAll(def)) {
          const kind = m[1];
          const name = `${prefix}${m[3]}`;
          const labels = new Set([...(m[5] ?? '').matchAll(/['"]([A-Za-z_][A-Za-z0-9_]*)['"]/g)].map((x) => /** @type {string} */ (x[1])));
          for (const c of COMMON_LABELS) labels.add(c);
          if (kind === 'histogram') {
            known.set(`${name}_bucket`, new Set([...labels, 'le']));
            known.set(`${name}_sum`, labels);
            known.set(`${name}_count`, labels);
          } else known.set(name, labels);
        }
      }
    }
  };
  for (const r of roots) scan(r);

  // prom-client's default metrics, read from the installed prom-client (label names not checked).
  if (defaultsPrefix !== undefined) {
    const candidates = [
      join(repoRoot, 'node_modules', 'prom-client', 'lib', 'metrics'),
      join(repoRoot, 'platform', 'node_modules', 'prom-client', 'lib', 'metrics'),
    ];
    const dir = candidates.find((c) => existsSync(c));
    if (dir) {
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.js'))) {
        const src = readFileSync(join(dir, f), 'utf8');
        const histogram = /new Histogram\(/.test(src);
        for (const m of src.matchAll(/=\s*'((?:nodejs|process)_[a-z0-9_]+)'/g)) {
          const name = `${defaultsPrefix}${m[1]}`;
          known.set(name, undefined);
          if (histogram) for (const s of ['_bucket', '_sum', '_count']) known.set(`${name}${s}`, undefined);
        }
      }
    } else console.log(`note  prom-client not installed under ${rel(repoRoot)}: default process metrics not checked`);
  }
  return known;
}

/**
 * Every orders_* name in `text` must be a known metric, and label matchers on it must name its labels.
 * @param {Map<string, Set<string> | undefined>} known @param {string} text @param {string} source
 * @returns {{ problems: string[], used: Set<string> }}
 */
function checkNames(known, text, source) {
  /** @type {string[]} */
  const problems = [];
  const used = new Set();
  for (const m of text.matchAll(/(?<![A-Za-z0-9_:])(orders_[A-Za-z0-9_:]+)(\{[^}]*\})?/g)) {
    const name = /** @type {string} */ (m[1]);
    if (!known.has(name)) {
      problems.push(`${source}: ${name} is not created by any service`);
      continue;
    }
    used.add(name);
    const labels = known.get(name);
    if (!labels || !m[2]) continue;
    for (const lm of m[2].matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)) {
      const label = /** @type {string} */ (lm[1]);
      if (!labels.has(label)) problems.push(`${source}: ${name} has no label "${label}" (it has: ${[...labels].sort().join(', ')})`);
    }
  }
  return { problems, used };
}

/** @param {Query[]} queries */
export function checkMetricNames(queries) {
  const known = knownMetrics();
  if (!known) return;
  /** @type {string[]} */
  const problems = [];
  const used = new Set();
  /** @param {{ problems: string[], used: Set<string> }} r */
  const add = (r) => {
    problems.push(...r.problems);
    for (const u of r.used) used.add(u);
  };
  // YAML comment lines are prose (they may name a histogram without its suffix); the rest is checked.
  const uncommented = (/** @type {string} */ f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => !/^\s*#/.test(l))
      .join('\n');
  for (const f of [files.alerts, files.tests]) if (existsSync(f)) add(checkNames(known, uncommented(f), rel(f)));
  for (const q of queries) add(checkNames(known, q.original, `${rel(q.file)} ${q.where}`));
  if (problems.length) fail('metric names and labels must exist in the services', [...new Set(problems)].join('\n'));
  else ok(`${used.size} orders_* metric names used, all created by the services (${known.size} known), label matchers valid`);
}
