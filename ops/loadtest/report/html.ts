/**
 * report.html: one self-contained file. uPlot (MIT, pinned in ops/package.json) and its stylesheet are
 * inlined from node_modules, the data travels as JSON in a non-executed script element, and a
 * Content-Security-Policy allows only those inline scripts (by hash) and no network at all, so the page
 * renders offline and can fetch nothing. Every text that comes from data is escaped; the page's own
 * script only ever writes text nodes.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Measured } from '../engine/recorder';
import { fmtMs, type Summary, type Table } from './model';

const require = createRequire(import.meta.url);
const UPLOT_JS = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
const UPLOT_CSS = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');

export function escapeHtml(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON safe inside a script element (no `</script>`, no line separators JavaScript would choke on). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** Runs in the browser: draws every chart of the data block with uPlot, in the chart's own element. */
const RENDER = `
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var colors = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#ca8a04', '#db2777', '#65a30d'];
  data.charts.forEach(function (chart) {
    var el = document.getElementById('chart-' + chart.id);
    if (!el) return;
    var hasData = chart.series.some(function (s) { return s.values.some(function (v) { return v !== null; }); });
    if (chart.x.length === 0 || !hasData) {
      var empty = document.createElement('p');
      empty.className = 'empty';
      empty.textContent = 'No data in this run.';
      el.appendChild(empty);
      return;
    }
    var opts = {
      width: Math.max(480, el.clientWidth || 900),
      height: 260,
      scales: { x: { time: false } },
      axes: [{ label: 'seconds into the run' }, { label: chart.unit }],
      series: [{ label: 's' }].concat(chart.series.map(function (s, i) {
        return { label: s.label, stroke: colors[i % colors.length], width: 1.5 };
      })),
    };
    new uPlot(opts, [chart.x].concat(chart.series.map(function (s) { return s.values; })), el);
  });
})();
`;

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #111827; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #e5e7eb; }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #e5e7eb; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f9fafb; } td.num { text-align: right; }
.met { color: #166534; font-weight: 600; } .notmet { color: #b91c1c; font-weight: 600; } .na { color: #6b7280; }
.verdict { font-size: 16px; margin: 8px 0 16px; } .chart { margin: 8px 0 4px; min-height: 40px; } .note { color: #4b5563; font-size: 13px; }
.empty { color: #6b7280; font-style: italic; } dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; } dt { color: #4b5563; }
`;

function table(columns: string[], rows: (string | number | null)[][], rowClass?: (row: (string | number | null)[]) => string[]): string {
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = rows
    .map((row) => {
      const classes = rowClass?.(row) ?? [];
      const cells = row.map((v, i) => {
        const cls = [typeof v === 'number' ? 'num' : '', classes[i] ?? ''].filter(Boolean).join(' ');
        return `<td${cls ? ` class="${cls}"` : ''}>${escapeHtml(v ?? '–')}</td>`;
      });
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function statusText(status: Record<string, number>): string {
  return Object.entries(status)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([code, n]) => `${code}: ${n}`)
    .join(', ');
}

function measuredRow(name: string, m: Measured): (string | number | null)[] {
  return [
    name,
    m.offered,
    m.sent,
    m.dropped,
    m.achieved,
    m.errors,
    m.timeouts,
    statusText(m.status),
    fmtMs(m.latencyMs?.p50),
    fmtMs(m.latencyMs?.p95),
    fmtMs(m.latencyMs?.p99),
  ];
}

const MEASURED_COLUMNS = ['class', 'offered', 'sent', 'dropped', 'achieved', 'errors', 'timeouts', 'status codes', 'p50', 'p95', 'p99'];

function extraTable(t: Table): string {
  return `<h2 id="table-${escapeHtml(t.id)}">${escapeHtml(t.title)}</h2>\n${table(t.columns, t.rows)}`;
}

export function renderHtml(s: Summary): string {
  const met = s.targets.filter((t) => t.met === true).length;
  const judged = s.targets.filter((t) => t.met !== null).length;
  const targetRows = s.targets.map((t) => [
    t.description,
    t.target,
    t.measured,
    t.met === null ? 'not measured' : t.met ? 'met' : 'NOT met',
  ]);
  const verdictClass = (row: (string | number | null)[]) => ['', '', '', row[3] === 'met' ? 'met' : row[3] === 'NOT met' ? 'notmet' : 'na'];
  const facts: [string, string][] = [
    ['target', s.target.gatewayUrl + (s.target.local ? ` (this machine's ${s.target.local} stack)` : '')],
    ['WebSocket', s.target.wsUrls.join(', ')],
    ['started / ended', `${s.startedAt} / ${s.endedAt}`],
    ['duration', `${s.durationS} s${s.short ? ' (short run)' : ''}${s.interrupted ? ', interrupted' : ''}`],
    [
      'settings',
      Object.entries(s.settings)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ],
    ['users', s.users ? `${s.users.count} (${s.users.method}, tier ${s.users.tier})` : 'none'],
    ['admin set-up', s.admin ? `token from ${s.admin.source}` : 'none needed'],
    ['HTTP engine', s.engine.http],
    ['closed-loop attackers', s.engine.closedLoop ?? 'none'],
    ['latency', s.engine.latency],
    [
      'generator lateness',
      s.engine.generatorLatenessMs
        ? `p99 ${fmtMs(s.engine.generatorLatenessMs.p99)}, max ${fmtMs(s.engine.generatorLatenessMs.max)}`
        : 'n/a',
    ],
    ['lag and limiter source', `${s.metrics.source}: ${s.metrics.detail}`],
  ];
  const totals = s.totals
    ? `<h2>Requests</h2>\n${table(MEASURED_COLUMNS, [
        ...Object.entries(s.totals.byClass).map(([cls, m]) => measuredRow(cls, m)),
        measuredRow('all', s.totals),
      ])}`
    : '';
  const charts = s.charts
    .map(
      (c) =>
        `<h2>${escapeHtml(c.title)}</h2>\n<div class="chart" id="chart-${escapeHtml(c.id)}" data-series="${escapeHtml(c.series.map((x) => x.label).join('|'))}"></div>` +
        (c.note ? `\n<p class="note">${escapeHtml(c.note)}</p>` : ''),
    )
    .join('\n');
  const dataJson = scriptJson({ charts: s.charts });
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(UPLOT_JS)} ${sha256(RENDER)}`,
    // uPlot positions its parts through element styles; the stylesheets are inline too.
    "style-src 'unsafe-inline'",
    'img-src data:',
  ].join('; ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(`loadtest ${s.scenario} ${s.startedAt}`)}</title>
<style>${UPLOT_CSS}</style>
<style>${STYLE}</style>
</head>
<body>
<h1>Load test: ${escapeHtml(s.scenario)}</h1>
<p class="verdict">${escapeHtml(`${met} of ${judged} targets met${judged < s.targets.length ? ` (${s.targets.length - judged} not measured)` : ''}`)}</p>
<h2>Targets</h2>
<table id="summary-table"><thead><tr><th>target</th><th>aim</th><th>measured</th><th>verdict</th></tr></thead><tbody>
${targetRows.map((r) => `<tr>${r.map((v, i) => `<td class="${verdictClass(r)[i]}">${escapeHtml(v)}</td>`).join('')}</tr>`).join('\n')}
</tbody></table>
<h2>Run</h2>
<dl>${facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>
${totals}
${s.tables.map(extraTable).join('\n')}
${charts}
${s.notes.length > 0 ? `<h2>Notes</h2>\n<ul>${s.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}
<script type="application/json" id="report-data">${dataJson}</script>
<script>${UPLOT_JS}</script>
<script>${RENDER}</script>
</body>
</html>
`;
}
