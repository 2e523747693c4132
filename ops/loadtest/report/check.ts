/**
 * Checks a report folder for completeness and consistency: summary.json's shape, every second's and the
 * totals' arithmetic (offered = sent + dropped, sent = achieved + errors + timeouts, the status codes add up
 * to achieved, achieved ≤ offered, p50 ≤ p95 ≤ p99 ≤ max, times increasing, the classes add up to the
 * whole), every chart's series present and as long as its time axis, and report.html holding the summary
 * table, every chart with its series and nothing loaded from the network. Returns the problems found.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addCounts, type Counts, type Latency, type Measured } from '../engine/recorder';
import { escapeHtml } from './html';
import { SCHEMA_VERSION, type Summary } from './model';

function countsProblems(where: string, m: Measured): string[] {
  const p: string[] = [];
  const statusSum = Object.values(m.status).reduce((a, b) => a + b, 0);
  if (m.sent + m.dropped !== m.offered) p.push(`${where}: sent ${m.sent} + dropped ${m.dropped} ≠ offered ${m.offered}`);
  if (m.achieved + m.errors + m.timeouts !== m.sent)
    p.push(`${where}: achieved ${m.achieved} + errors ${m.errors} + timeouts ${m.timeouts} ≠ sent ${m.sent}`);
  if (statusSum !== m.achieved) p.push(`${where}: status codes add up to ${statusSum}, achieved is ${m.achieved}`);
  if (m.achieved > m.offered) p.push(`${where}: achieved ${m.achieved} > offered ${m.offered}`);
  for (const [code, n] of Object.entries(m.status))
    if (!/^[1-5]\d\d$/.test(code) || !Number.isInteger(n) || n < 0) p.push(`${where}: bad status entry ${code}=${n}`);
  p.push(...latencyProblems(where, m.latencyMs, m.achieved));
  return p;
}

function latencyProblems(where: string, l: Latency | null, answered: number): string[] {
  if (l === null) return answered > 0 ? [`${where}: ${answered} answers but no latency`] : [];
  if (answered === 0) return [`${where}: latency without answers`];
  if (!(l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max)) return [`${where}: percentiles out of order ${JSON.stringify(l)}`];
  if (l.p50 < 0) return [`${where}: negative latency`];
  return [];
}

function sum(items: Counts[]): Counts {
  const out: Counts = { offered: 0, sent: 0, dropped: 0, achieved: 0, errors: 0, timeouts: 0, status: {} };
  for (const c of items) addCounts(out, c);
  return out;
}

function sameCounts(where: string, a: Counts, b: Counts): string[] {
  const keys = ['offered', 'sent', 'dropped', 'achieved', 'errors', 'timeouts'] as const;
  const p = keys.filter((k) => a[k] !== b[k]).map((k) => `${where}: ${k} ${a[k]} ≠ ${b[k]}`);
  const codes = new Set([...Object.keys(a.status), ...Object.keys(b.status)]);
  for (const c of codes)
    if ((a.status[c] ?? 0) !== (b.status[c] ?? 0)) p.push(`${where}: status ${c} ${a.status[c] ?? 0} ≠ ${b.status[c] ?? 0}`);
  return p;
}

export function checkSummary(s: Summary, expectedCharts: string[] = []): string[] {
  const p: string[] = [];
  if (s.schemaVersion !== SCHEMA_VERSION) p.push(`schemaVersion ${s.schemaVersion} ≠ ${SCHEMA_VERSION}`);
  for (const k of ['scenario', 'startedAt', 'endedAt', 'target', 'engine', 'metrics', 'perSecond', 'targets', 'charts', 'tables'] as const)
    if (s[k] === undefined || s[k] === null) p.push(`summary.json has no ${k}`);
  if (p.length > 0) return p;
  if (!(Date.parse(s.startedAt) <= Date.parse(s.endedAt))) p.push('startedAt is not before endedAt');
  if (s.targets.length === 0) p.push('no targets');
  for (const t of s.targets) {
    if (!t.description || !t.target || !t.measured) p.push(`target ${t.id} is incomplete`);
    if (t.met !== true && t.met !== false && t.met !== null) p.push(`target ${t.id}: met is ${t.met}`);
  }
  s.perSecond.forEach((sec, i) => {
    if (sec.t !== i) p.push(`second ${i} has t = ${sec.t} (times must increase by one)`);
    p.push(...countsProblems(`second ${i}`, sec));
    const classes = Object.entries(sec.byClass);
    for (const [cls, m] of classes) p.push(...countsProblems(`second ${i} ${cls}`, m));
    if (classes.length > 0) p.push(...sameCounts(`second ${i} classes vs all`, sum(classes.map(([, m]) => m)), sec));
  });
  if (s.totals) {
    p.push(...countsProblems('totals', s.totals));
    p.push(...sameCounts('totals vs seconds', s.totals, sum(s.perSecond)));
    for (const [cls, m] of Object.entries(s.totals.byClass)) {
      p.push(...countsProblems(`totals ${cls}`, m));
      p.push(...sameCounts(`totals ${cls} vs seconds`, m, sum(s.perSecond.map((sec) => sec.byClass[cls] ?? sum([])))));
    }
  }
  for (const id of expectedCharts) if (!s.charts.some((c) => c.id === id)) p.push(`chart ${id} is missing`);
  for (const c of s.charts) {
    if (c.series.length === 0) p.push(`chart ${c.id} has no series`);
    if (c.x.some((x, i) => i > 0 && x <= (c.x[i - 1] as number))) p.push(`chart ${c.id}: times do not increase`);
    for (const series of c.series)
      if (series.values.length !== c.x.length)
        p.push(`chart ${c.id} series ${series.label}: ${series.values.length} values for ${c.x.length} times`);
  }
  for (const t of s.tables)
    for (const row of t.rows) if (row.length !== t.columns.length) p.push(`table ${t.id}: a row of ${row.length} cells`);
  return p;
}

export function checkHtml(html: string, s: Summary): string[] {
  const p: string[] = [];
  if (!html.includes('id="summary-table"')) p.push('report.html has no summary table');
  for (const t of s.targets)
    if (!html.includes(escapeHtml(t.description))) p.push(`report.html does not list the target "${t.description}"`);
  for (const c of s.charts) {
    const div = `id="chart-${escapeHtml(c.id)}" data-series="${escapeHtml(c.series.map((x) => x.label).join('|'))}"`;
    if (!html.includes(div)) p.push(`report.html has no element for chart ${c.id} with its series`);
  }
  const data = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  if (!data) p.push('report.html carries no chart data');
  else {
    const charts = (JSON.parse(data[1] as string) as Pick<Summary, 'charts'>).charts;
    if (JSON.stringify(charts) !== JSON.stringify(s.charts)) p.push("report.html's chart data differs from summary.json's");
  }
  if (/<script[^>]+src=|<link[^>]+href=|@import|url\(http/i.test(html)) p.push('report.html loads something from elsewhere');
  if (!html.includes(escapeHtml("default-src 'none'"))) p.push('report.html has no Content-Security-Policy closing the network');
  if (!/uPlot/.test(html)) p.push('report.html does not carry uPlot');
  return p;
}

/** Every problem of the report in `dir` (empty: complete and consistent). */
export function checkReport(dir: string, expectedCharts: string[] = []): string[] {
  const summaryFile = join(dir, 'summary.json');
  const htmlFile = join(dir, 'report.html');
  const missing = [summaryFile, htmlFile].filter((f) => !existsSync(f)).map((f) => `${f} is missing`);
  if (missing.length > 0) return missing;
  const s = JSON.parse(readFileSync(summaryFile, 'utf8')) as Summary;
  const problems = checkSummary(s, expectedCharts);
  return problems.length > 0 ? problems : checkHtml(readFileSync(htmlFile, 'utf8'), s);
}
