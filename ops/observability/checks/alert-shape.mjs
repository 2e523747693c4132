// @ts-check
/**
 * Check: every alert in prometheus/alerts.yml has `for:`, a severity label (critical|warning|info) and
 * summary/description annotations, and no alert name is used twice. Read line by line: the check has
 * no dependencies, so no YAML parser.
 */
import { readFileSync } from 'node:fs';
import { files } from './files.mjs';
import { fail, ok, rel } from './report.mjs';

export function checkAlertShape() {
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
