/**
 * What the soak prints and writes: one block per window as it closes, and at the end the data
 * (.local/artifacts/soak.json) and its chart (soak.svg: retained state, RSS, p99 per window).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lineChart } from '../line-chart';
import { BUSINESS, MiB, RETAINED, type Sample } from './sampling';
import type { Window } from './windows';

const out = (line = '') => process.stdout.write(`${line}\n`);
const mb = (b: number) => `${(b / MiB).toFixed(1)} MB`;

/** The window's lines: rates and latencies, the retained and business tables, each process's RSS. */
export function printWindow(w: Window, o: { from: number; t0: number; windowMs: number }): void {
  const { from, t0, windowMs } = o;
  const s = w.sample;
  const seconds = windowMs / 1000;
  out(
    `window ${w.n} (${Math.round((from - t0) / 1000)}–${Math.round((from + windowMs - t0) / 1000)} s): ` +
      `POST ${(w.post.ok / seconds).toFixed(0)}/s p50 ${w.post.p50.toFixed(0)} p99 ${w.post.p99.toFixed(0)} ms; ` +
      `reads ${(w.read.ok / seconds).toFixed(0)}/s p99 ${w.read.p99.toFixed(0)} ms; ` +
      `placed → shipped ${w.e2e.n} p50 ${w.e2e.p50.toFixed(0)} p99 ${w.e2e.p99.toFixed(0)} ms`,
  );
  out(
    `  retained: ${RETAINED.map((t) => `${t} ${s.tables[t]?.rows ?? 0} rows ${mb(s.tables[t]?.bytes ?? 0)}`).join(', ')}, ` +
      `Redis ${mb(s.redis)}, Kafka ${mb(s.kafka)}`,
  );
  out(`  business: ${BUSINESS.map((t) => `${t} ${s.tables[t]?.rows ?? 0} rows ${mb(s.tables[t]?.bytes ?? 0)}`).join(', ')}`);
  out(
    `  RSS: ${Object.entries(s.rss)
      .map(([n, b]) => `${n} ${mb(b)}`)
      .join(', ')}`,
  );
}

/** Writes soak.json and soak.svg under `root`/.local/artifacts; resolves with the chart's path. */
export function writeArtifacts(
  root: string,
  o: {
    minutes: number;
    rate: number;
    readRate: number;
    windowMs: number;
    windows: Window[];
    samples: Sample[];
    processes: string[];
    pass: boolean;
  },
): string {
  const { windows, samples, windowMs } = o;
  const artifacts = join(root, '.local/artifacts');
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(
    join(artifacts, 'soak.json'),
    JSON.stringify({ minutes: o.minutes, rate: o.rate, readRate: o.readRate, windows, samples, pass: o.pass }, null, 1),
  );
  const minutes = samples.map((s) => s.t / 60_000);
  writeFileSync(
    join(artifacts, 'soak.svg'),
    lineChart(`soak: ${o.minutes} min, ${o.rate} orders/s + ${o.readRate} reads/s`, [
      {
        title: 'retained state (MB)',
        x: minutes,
        series: [
          ...RETAINED.map((t) => ({ label: t, values: samples.map((s) => (s.tables[t]?.bytes ?? 0) / MiB) })),
          { label: 'Redis', values: samples.map((s) => s.redis / MiB) },
          { label: 'Kafka', values: samples.map((s) => s.kafka / MiB) },
        ],
      },
      {
        title: 'RSS (MB)',
        x: minutes,
        series: o.processes.map((name) => ({ label: name, values: samples.map((s) => (s.rss[name] ?? 0) / MiB) })),
      },
      {
        title: 'p99 per window (ms)',
        x: windows.map((w) => (w.n * windowMs) / 60_000),
        series: [
          { label: 'POST', values: windows.map((w) => w.post.p99) },
          { label: 'placed → shipped', values: windows.map((w) => w.e2e.p99) },
        ],
      },
    ]),
  );
  return join(artifacts, 'soak.svg');
}
