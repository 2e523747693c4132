/**
 * The pipeline benchmark's chart as a self-contained SVG (no script, no fonts or files to fetch): offered
 * rate against placed → shipped p50/p99 (log scale, with the 2 s bound) and against the time the backlog
 * took to drain after each step (with the 5 s bound); the knee marked.
 */

export interface StepResult {
  rate: number;
  achieved: number;
  p50: number;
  p99: number;
  drainMs: number;
  maxLag: number;
  holds: boolean;
  cpuMsPerOrder: number;
}

const W = 720;
const PANEL_H = 220;
const PAD = { left: 70, right: 20, top: 40, bottom: 40 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function panel(
  steps: StepResult[],
  top: number,
  title: string,
  series: { label: string; color: string; value: (s: StepResult) => number }[],
  opts: { log: boolean; limit: number; unit: string; knee: number },
): string {
  const x0 = PAD.left;
  const x1 = W - PAD.right;
  const y0 = top + PANEL_H - PAD.bottom;
  const y1 = top + PAD.top;
  const maxRate = Math.max(...steps.map((s) => s.rate), 1);
  const values = steps.flatMap((s) => series.map((l) => l.value(s))).filter((v) => Number.isFinite(v) && v > 0);
  const hi = Math.max(opts.limit * 1.5, ...values);
  const lo = opts.log ? Math.max(1, Math.min(...values, opts.limit) / 2) : 0;
  const sx = (r: number) => x0 + (r / maxRate) * (x1 - x0);
  const sy = (v: number) =>
    opts.log
      ? y0 - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (y0 - y1)
      : y0 - (v / hi) * (y0 - y1);
  const parts: string[] = [`<text x="${x0}" y="${top + 22}" font-size="14" font-weight="bold">${esc(title)}</text>`];
  parts.push(
    `<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y0}" stroke="#333"/><line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y1}" stroke="#333"/>`,
  );
  for (const s of steps) {
    parts.push(`<text x="${sx(s.rate)}" y="${y0 + 16}" font-size="11" text-anchor="middle">${s.rate}</text>`);
  }
  const ticks = opts.log
    ? [10, 100, 1_000, 10_000, 100_000].filter((t) => t >= lo && t <= hi)
    : [0, opts.limit, opts.limit * 2].filter((t) => t <= hi);
  for (const t of ticks) {
    parts.push(`<line x1="${x0 - 4}" y1="${sy(t)}" x2="${x1}" y2="${sy(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${x0 - 6}" y="${sy(t) + 4}" font-size="11" text-anchor="end">${Math.round(t)} ${opts.unit}</text>`);
  }
  parts.push(
    `<line x1="${x0}" y1="${sy(opts.limit)}" x2="${x1}" y2="${sy(opts.limit)}" stroke="#c00" stroke-dasharray="6 4"/>`,
    `<text x="${x1}" y="${sy(opts.limit) - 4}" font-size="11" fill="#c00" text-anchor="end">bound ${opts.limit} ${opts.unit}</text>`,
  );
  if (opts.knee > 0) {
    parts.push(`<line x1="${sx(opts.knee)}" y1="${y0}" x2="${sx(opts.knee)}" y2="${y1}" stroke="#080" stroke-dasharray="3 3"/>`);
  }
  series.forEach((l, n) => {
    const pts = steps.filter((s) => Number.isFinite(l.value(s))).map((s) => `${sx(s.rate).toFixed(1)},${sy(l.value(s)).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${l.color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    for (const p of pts) parts.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${l.color}"/>`);
    parts.push(`<text x="${x1 - (series.length - n) * 70}" y="${top + 22}" font-size="12" fill="${l.color}">■ ${esc(l.label)}</text>`);
  });
  return parts.join('\n');
}

export function pipelineChart(steps: StepResult[], knee: number): string {
  const h = PANEL_H * 2 + 30;
  const body = [
    panel(
      steps,
      0,
      'placed → shipped by offered orders/s (log scale)',
      [
        { label: 'p50', color: '#1f77b4', value: (s) => s.p50 },
        { label: 'p99', color: '#d62728', value: (s) => s.p99 },
      ],
      { log: true, limit: 2_000, unit: 'ms', knee },
    ),
    panel(steps, PANEL_H, 'lag drained after the step (s)', [{ label: 'drain', color: '#9467bd', value: (s) => s.drainMs / 1000 }], {
      log: false,
      limit: 5,
      unit: 's',
      knee,
    }),
    `<text x="${PAD.left}" y="${h - 8}" font-size="12">knee (green): ${knee} orders/s — the highest step with p99 &lt; 2 s and the lag back to 0 within 5 s</text>`,
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${body.join('\n')}
</svg>
`;
}
