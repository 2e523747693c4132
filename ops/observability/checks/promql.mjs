// @ts-check
/**
 * Check: every dashboard query parses as PromQL. promtool has no "parse this expression" command, so
 * the queries are written as recording rules `dashboard:check:<n>` into a temporary rules file that
 * `promtool check rules` reads; a failure names the panels behind the rule numbers it reports.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fail, ok, rel } from './report.mjs';

/** @typedef {import('./dashboards.mjs').Query} Query */

/**
 * Writes the dashboard queries as recording rules and has promtool parse them.
 * @param {string} promtool @param {Query[]} queries
 */
export function parseQueries(promtool, queries) {
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
