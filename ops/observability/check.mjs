#!/usr/bin/env node
// @ts-check
/**
 * Checks the observability configuration in ops/observability with Prometheus's own tools:
 *
 *   1. promtool check config  prometheus/prometheus.yml   (also loads the rule files it names)
 *   2. promtool check rules   prometheus/alerts.yml
 *      + every alert has `for:`, a severity label, and summary/description annotations
 *   3. promtool test rules    rules.test.yml
 *   4. every dashboard JSON under grafana/dashboards parses and has uid, title and panels (uids unique,
 *      panel ids unique, Prometheus datasource uid "prometheus"); every panel target's `expr` (and every
 *      `label_values(...)` variable query) is written as a recording rule `dashboard:check:<n>` into a
 *      temporary rules file that promtool parses. Grafana variables are replaced first: $__rate_interval,
 *      $__interval, $__range -> 5m; dashboard variables -> .* (so use them only in regex matchers).
 *   5. every `orders_*` metric name used by the alerts, the unit tests and the dashboards is created in
 *      the services' code (gateway, ws-edge, workers, platform), with its histogram suffixes and the
 *      prom-client default metrics, and every label matcher on such a selector names a label the metric
 *      really has (its labelNames, or service/job/instance, or le on _bucket).
 *
 * No dependencies. Usage (from anywhere):
 *   node ops/observability/check.mjs
 * Environment: PROMTOOL=/path/to/promtool (else promtool from PATH);
 *   ORDERS_REPO_ROOT=<dir> where gateway/, ws-edge/, workers/, platform/ live (default: two levels up).
 * Exits 1, listing every failure, when anything is wrong; 0 otherwise.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(process.env.ORDERS_REPO_ROOT || join(here, '..', '..'));
const files = {
  config: join(here, 'prometheus', 'prometheus.yml'),
  alerts: join(here, 'prometheus', 'alerts.yml'),
  tests: join(here, 'rules.test.yml'),
  dashboards: join(here, 'grafana', 'dashboards'),
  datasource: join(here, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'),
  provider: join(here, 'grafana', 'provisioning', 'dashboards', 'dashboards.yml'),
};
const DATASOURCE_UID = 'prometheus';
const SERVICE_DIRS = ['gateway', 'ws-edge', 'workers', 'platform'];
/** Labels every scraped series may carry besides its own: the registry default and the target labels. */
const COMMON_LABELS = new Set(['service', 'job', 'instance']);

/** @type {string[]} */
const failures = [];
const rel = (/** @type {string} */ p) => relative(process.cwd(), p) || '.';

/** @param {string} what @param {string} [detail] */
function fail(what, detail) {
  failures.push(what);
  console.log(`FAIL  ${what}`);
  if (detail) console.log(indent(detail));
}
/** @param {string} what */
function ok(what) {
  console.log(`ok    ${what}`);
}
/** @param {string} text */
function indent(text) {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');
}

// ---------------------------------------------------------------------------------------------- promtool

/** @returns {string | undefined} */
function findPromtool() {
  /** @param {string} p */
  const executable = (p) => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  const given = process.env.PROMTOOL;
  if (given) {
    if (executable(given)) return given;
    fail(`PROMTOOL=${given} is not an executable file`);
    return undefined;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, 'promtool'))) return join(dir, 'promtool');
  }
  fail(
    'promtool not found (set PROMTOOL or put it on PATH)',
    'Debian/Ubuntu: apt-get install --no-install-recommends prometheus (ships /usr/bin/promtool);\n' +
      'or take promtool from a release archive at https://github.com/prometheus/prometheus/releases',
  );
  return undefined;
}

/**
 * Runs promtool; ok/fail by exit status, with its output shown on failure.
 * @param {string} promtool @param {string[]} args @param {string} what
 * @returns {{ passed: boolean, output: string }}
 */
function promtoolRun(promtool, args, what) {
  const r = spawnSync(promtool, args, { encoding: 'utf8', cwd: here });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.replace(/\n\s*\n(\s*\n)+/g, '\n\n');
  if (r.error) {
    fail(what, `could not run ${promtool}: ${r.error.message}`);
    return { passed: false, output };
  }
  if (r.status !== 0) {
    fail(what, `promtool ${args.join(' ')} exited ${r.status}:\n${output}`);
    return { passed: false, output };
  }
  ok(what);
  return { passed: true, output };
}

// ------------------------------------------------------------------------------------------ alert shape

/** Line-level check that every alert has `for:`, a severity label and summary/description annotations. */
function checkAlertShape() {
  const text = readFileSync(files.alerts, 'utf8');
  const lines = text.split('\n');
  /** @type {{ name: string, body: string[] }[]} */
  const rules = [];
  for (const line of lines) {
    const m = /^\s*-\s+(alert|record):\s*(\S+)/.exec(line);
    if (m) rules.push({ name: m[1] === 'alert' ? (m[2] ?? '') : '', body: [] });
    else if (/^\s*-\s+name:/.test(line)) rules.push({ name: '', body: [] });
    else rules[rules.length - 1]?.body.push(line);
  }
  const alerts = rules.filter((r) => r.name);
  if (alerts.length === 0) return fail(`${rel(files.alerts)}: no alert rules found`);
  /** @type {string[]} */
  const problems = [];
  const seen = new Set();
  for (const a of alerts) {
    if (seen.has(a.name)) problems.push(`${a.name}: defined twice`);
    seen.add(a.name);
    const body = a.body.join('\n');
    for (const [key, re] of /** @type {[string, RegExp][]} */ ([
      ['for:', /^\s+for:\s*\d+[smhdwy]/m],
      ['labels.severity', /^\s+severity:\s*(critical|warning|info)\s*$/m],
      ['annotations.summary', /^\s+summary:\s*\S/m],
      ['annotations.description', /^\s+description:\s*\S/m],
    ]))
      if (!re.test(body)) problems.push(`${a.name}: missing ${key}`);
  }
  if (problems.length) fail(`${rel(files.alerts)}: alert shape`, problems.join('\n'));
  else ok(`${rel(files.alerts)}: ${alerts.length} alerts have for, severity (critical|warning|info), summary, description`);
}

// ----------------------------------------------------------------------------------------- dashboards

/**
 * @typedef {{ dashboard: string, file: string, where: string, expr: string, original: string }} Query
 */

/** Grafana's built-in variables that stand for a duration or a number. */
const BUILTINS = /** @type {Record<string, string>} */ ({
  __rate_interval: '5m',
  __interval: '5m',
  __range: '5m',
  __auto: '5m',
  __interval_ms: '300000',
  __range_ms: '300000',
  __range_s: '300',
});

/**
 * Replaces Grafana variables ($x, ${x}, ${x:fmt}, [[x]]) so Prometheus can parse the query.
 * @param {string} expr @param {Map<string, string>} vars
 * @returns {{ expr: string, unknown: string[] }}
 */
function substitute(expr, vars) {
  /** @type {string[]} */
  const unknown = [];
  /** @param {string} name */
  const value = (name) => {
    if (name in BUILTINS) return /** @type {string} */ (BUILTINS[name]);
    const v = vars.get(name);
    if (v !== undefined) return v;
    unknown.push(name);
    return '.*';
  };
  const out = expr
    .replace(/\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}/g, (_, n) => value(n))
    .replace(/\[\[([A-Za-z0-9_]+)(?::[^\]]*)?\]\]/g, (_, n) => value(n))
    .replace(/\$([A-Za-z0-9_]+)/g, (_, n) => value(n));
  return { expr: out, unknown };
}

/** @param {any} v */
const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates the dashboards and collects their queries.
 * @returns {Query[]}
 */
function checkDashboards() {
  /** @type {Query[]} */
  const queries = [];
  if (!existsSync(files.dashboards)) {
    fail(`${rel(files.dashboards)} does not exist`);
    return queries;
  }
  const jsonFiles = readdirSync(files.dashboards)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (jsonFiles.length === 0) fail(`${rel(files.dashboards)}: no dashboard JSON files`);
  /** @type {Map<string, string>} */
  const uids = new Map();
  for (const name of jsonFiles) {
    const file = join(files.dashboards, name);
    /** @type {any} */
    let d;
    try {
      d = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      fail(`${rel(file)}: not valid JSON`, /** @type {Error} */ (err).message);
      continue;
    }
    /** @type {string[]} */
    const problems = [];
    if (!isObject(d)) {
      fail(`${rel(file)}: not a JSON object`);
      continue;
    }
    if (typeof d.uid !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(d.uid)) problems.push('uid must be a string of 1-40 [A-Za-z0-9_-]');
    else if (uids.has(d.uid)) problems.push(`uid "${d.uid}" is also used by ${uids.get(d.uid)}`);
    else uids.set(d.uid, name);
    if (typeof d.title !== 'string' || d.title.trim() === '') problems.push('title missing');
    if (!Array.isArray(d.panels) || d.panels.length === 0) problems.push('panels missing or empty');

    // Dashboard variables: interval variables stand for a duration, constants for their value, the rest
    // (query, custom, textbox...) for a regex.
    /** @type {Map<string, string>} */
    const vars = new Map();
    const templ = d.templating?.list ?? [];
    if (!Array.isArray(templ)) problems.push('templating.list is not an array');
    for (const [i, v] of (Array.isArray(templ) ? templ : []).entries()) {
      if (!isObject(v) || typeof v.name !== 'string') {
        problems.push(`templating.list[${i}] has no name`);
        continue;
      }
      vars.set(v.name, v.type === 'interval' ? '5m' : v.type === 'constant' ? String(v.query ?? '') : '.*');
    }
    for (const v of Array.isArray(templ) ? templ : []) {
      if (!isObject(v) || v.type !== 'query') continue;
      if (v.datasource?.uid !== DATASOURCE_UID) problems.push(`variable ${v.name}: datasource uid must be "${DATASOURCE_UID}"`);
      const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
      // label_values(<series selector>, label) / query_result(<expr>): check the PromQL inside.
      const m = /^\s*(?:label_values|query_result)\s*\(\s*(.*?)\s*(?:,\s*[A-Za-z_][A-Za-z0-9_]*\s*)?\)\s*$/s.exec(q);
      if (m?.[1]) {
        const s = substitute(m[1], vars);
        if (s.unknown.length) problems.push(`variable ${v.name}: unknown variable(s) ${s.unknown.join(', ')}`);
        queries.push({ dashboard: d.uid, file, where: `variable ${v.name}`, expr: s.expr, original: m[1] });
      }
    }

    /** @type {Set<number>} */
    const ids = new Set();
    let count = 0;
    /** @param {any[]} panels @param {string} path */
    const walk = (panels, path) => {
      for (const [i, p] of panels.entries()) {
        const at = `${path}[${i}]`;
        if (!isObject(p)) {
          problems.push(`${at} is not an object`);
          continue;
        }
        const label = `panel ${p.id ?? '?'} "${p.title ?? ''}"`;
        if (typeof p.id !== 'number') problems.push(`${at}: id missing`);
        else if (ids.has(p.id)) problems.push(`${at}: duplicate panel id ${p.id}`);
        else ids.add(p.id);
        if (!isObject(p.gridPos)) problems.push(`${label}: gridPos missing`);
        if (p.type === 'row') {
          if (Array.isArray(p.panels)) walk(p.panels, `${at}.panels`);
          continue;
        }
        count++;
        if (typeof p.title !== 'string' || p.title === '') problems.push(`${at}: title missing`);
        if (p.type === 'text') continue;
        if (p.datasource && p.datasource.uid !== DATASOURCE_UID) problems.push(`${label}: datasource uid must be "${DATASOURCE_UID}"`);
        if (!Array.isArray(p.targets) || p.targets.length === 0) {
          problems.push(`${label}: no targets`);
          continue;
        }
        const refIds = new Set();
        for (const t of p.targets) {
          if (refIds.has(t.refId)) problems.push(`${label}: duplicate refId ${t.refId}`);
          refIds.add(t.refId);
          if (t.datasource && t.datasource.uid !== DATASOURCE_UID)
            problems.push(`${label} target ${t.refId}: datasource uid must be "${DATASOURCE_UID}"`);
          if (typeof t.expr !== 'string' || t.expr.trim() === '') {
            problems.push(`${label} target ${t.refId}: expr missing`);
            continue;
          }
          const s = substitute(t.expr, vars);
          if (s.unknown.length) problems.push(`${label} target ${t.refId}: unknown variable(s) ${s.unknown.join(', ')}`);
          queries.push({ dashboard: d.uid, file, where: `${label} target ${t.refId}`, expr: s.expr, original: t.expr });
        }
      }
    };
    if (Array.isArray(d.panels)) walk(d.panels, 'panels');
    if (problems.length) fail(`${rel(file)}: dashboard structure`, problems.join('\n'));
    else ok(`${rel(file)}: uid "${d.uid}", "${d.title}", ${count} panels, ${queries.filter((q) => q.file === file).length} queries`);
  }
  return queries;
}

/**
 * Writes the dashboard queries as recording rules and has promtool parse them.
 * @param {string} promtool @param {Query[]} queries
 */
function parseQueries(promtool, queries) {
  if (queries.length === 0) return;
  const dir = mkdtempSync(join(tmpdir(), 'orders-dashboard-check-'));
  try {
    const file = join(dir, 'dashboard-queries.rules.yml');
    // A JSON string is a valid YAML double-quoted scalar.
    const rules = queries.map((q, i) => `      - record: dashboard:check:${i + 1}\n        expr: ${JSON.stringify(q.expr)}\n`).join('');
    writeFileSync(file, `groups:\n  - name: dashboard-queries\n    rules:\n${rules}`);
    const r = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8' });
    const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    if (r.error || r.status !== 0) {
      // Name the panels promtool complained about.
      const bad = new Set([...output.matchAll(/dashboard:check:(\d+)/g)].map((m) => Number(m[1])));
      const where = [...bad]
        .sort((a, b) => a - b)
        .map((n) => {
          const q = queries[n - 1];
          return q ? `dashboard:check:${n} = ${rel(q.file)} ${q.where}:\n  ${q.original}` : `dashboard:check:${n}`;
        });
      fail(
        `dashboard queries do not all parse (promtool check rules on ${queries.length} queries)`,
        `${r.error ? r.error.message : output}${where.length ? `\n${where.join('\n')}` : ''}`,
      );
    } else ok(`${queries.length} dashboard queries parse (promtool check rules)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// -------------------------------------------------------------------------------------- metric names

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
function checkMetricNames(queries) {
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

// ---------------------------------------------------------------------------------------- provisioning

function checkProvisioning() {
  /** @type {[string, RegExp, string][]} */
  const expectations = [
    [files.datasource, new RegExp(String.raw`^\s*uid:\s*['"]?${DATASOURCE_UID}['"]?\s*$`, 'm'), `datasource uid "${DATASOURCE_UID}"`],
    [files.datasource, /^\s*url:\s*['"]?http:\/\/prometheus:9090['"]?\s*$/m, 'url http://prometheus:9090'],
    [files.provider, /^\s*type:\s*file\s*$/m, 'file provider'],
    [files.provider, /^\s*path:\s*['"]?\/var\/lib\/grafana\/dashboards['"]?\s*$/m, 'path /var/lib/grafana/dashboards'],
  ];
  for (const [file, re, what] of expectations) {
    if (!existsSync(file)) fail(`${rel(file)} is missing`);
    else if (!re.test(readFileSync(file, 'utf8'))) fail(`${rel(file)}: expected ${what}`);
    else ok(`${rel(file)}: ${what}`);
  }
}

// ------------------------------------------------------------------------------------------------ main

const promtool = findPromtool();
if (promtool) {
  const v = spawnSync(promtool, ['--version'], { encoding: 'utf8' });
  console.log(`using ${promtool}: ${`${v.stdout ?? ''}${v.stderr ?? ''}`.split('\n')[0]?.trim() || 'version unknown'}`);
  promtoolRun(promtool, ['check', 'config', files.config], `promtool check config ${rel(files.config)}`);
  promtoolRun(promtool, ['check', 'rules', files.alerts], `promtool check rules ${rel(files.alerts)}`);
}
checkAlertShape();
if (promtool) promtoolRun(promtool, ['test', 'rules', files.tests], `promtool test rules ${rel(files.tests)}`);
const queries = checkDashboards();
if (promtool) parseQueries(promtool, queries);
checkMetricNames(queries);
checkProvisioning();

if (failures.length) {
  console.log(`\n${failures.length} check(s) failed:`);
  for (const f of failures) console.log(`  - ${f}`);
  process.exit(1);
}
console.log('\nall observability checks passed');
