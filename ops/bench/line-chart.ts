/**
 * Stacked panels of line series over a shared kind of x axis, as one self-contained SVG (no script, no
 * fonts or files to fetch). Used by the soak run for its sizes, memory and latency over time.
 */

export interface Panel {
  title: string;
  x: number[];
  series: { label: string; values: number[] }[];
}

const W = 760;
const PANEL_H = 200;
const PAD = { left: 70, right: 170, top: 30, bottom: 30 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));

function panel(p: Panel, top: number): string {
  const xs = p.x.filter(Number.isFinite);
  const ys = p.series.flatMap((s) => s.values).filter(Number.isFinite);
  const x0 = Math.min(...xs, 0);
  const x1 = Math.max(...xs, x0 + 1);
  const y1 = Math.max(...ys, 1) * 1.1;
  const px = (x: number) => PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const py = (y: number) => top + PAD.top + (1 - y / y1) * (PANEL_H - PAD.top - PAD.bottom);
  const parts = [
    `<text x="${PAD.left}" y="${top + 18}" font-size="13" font-weight="bold">${esc(p.title)}</text>`,
    `<line x1="${PAD.left}" y1="${py(0)}" x2="${W - PAD.right}" y2="${py(0)}" stroke="#999"/>`,
    `<line x1="${PAD.left}" y1="${py(0)}" x2="${PAD.left}" y2="${py(y1)}" stroke="#999"/>`,
  ];
  for (const f of [0, 0.5, 1]) {
    const y = y1 * f;
    parts.push(`<text x="${PAD.left - 6}" y="${py(y) + 4}" font-size="10" text-anchor="end">${fmt(y)}</text>`);
  }
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    const x = x0 + (x1 - x0) * f;
    parts.push(`<text x="${px(x)}" y="${py(0) + 14}" font-size="10" text-anchor="middle">${fmt(x)} min</text>`);
  }
  p.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const points = s.values
      .map((v, j) => [p.x[j], v] as const)
      .filter(([x, v]) => Number.isFinite(x) && Number.isFinite(v))
      .map(([x, v]) => `${px(x as number).toFixed(1)},${py(v).toFixed(1)}`)
      .join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points}"/>`);
    const ly = top + PAD.top + 4 + i * 15;
    parts.push(`<rect x="${W - PAD.right + 10}" y="${ly - 8}" width="10" height="3" fill="${color}"/>`);
    parts.push(`<text x="${W - PAD.right + 24}" y="${ly - 4}" font-size="11">${esc(s.label)}</text>`);
  });
  return parts.join('\n');
}

export function lineChart(title: string, panels: Panel[]): string {
  const h = 30 + panels.length * PANEL_H;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="20" font-size="15" text-anchor="middle">${esc(title)}</text>`,
    ...panels.map((p, i) => panel(p, 30 + i * PANEL_H)),
    '</svg>',
  ].join('\n');
}
