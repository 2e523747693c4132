// @ts-check
/**
 * Check: every dashboard JSON under grafana/dashboards parses and has uid, title and panels (uids unique,
 * panel ids unique, Prometheus datasource uid "prometheus"). Collects every panel target's `expr` and
 * every `label_values(...)`/`query_result(...)` variable query, with Grafana's variables replaced
 * ($__rate_interval, $__interval, $__range -> 5m; dashboard variables -> .*), for the PromQL and
 * metric-name checks.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATASOURCE_UID, files } from './files.mjs';
import { fail, ok, rel } from './report.mjs';

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
export function checkDashboards() {
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
