/**
 * The soak's judgement, from the second window on (the first holds the warm-up): retained state stops
 * growing, the p99s hold, almost nothing fails, every process runs to the end, and no process's RSS
 * trends upward beyond noise. One line per check, and whether all of them were met.
 */
import { MiB, RETAINED, retainedBytes, type Sample } from './sampling';
import type { Answer } from './traffic';
import type { Window } from './windows';

const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');

export function verdict(o: {
  windows: Window[];
  samples: Sample[];
  post: Answer[];
  reads: Answer[];
  windowMs: number;
  /** The processes by name, and those that exited before the end. */
  processes: string[];
  gone: string[];
}): { checks: string[]; pass: boolean } {
  const { windows, samples, post, reads, windowMs, gone } = o;
  const second = windows[1];
  const last = windows[windows.length - 1];
  const checks: string[] = [];
  let pass = true;
  const judge = (ok: boolean, text: string) => {
    pass &&= ok;
    checks.push(`  ${text} → ${mark(ok)}`);
  };
  if (!second || !last || windows.length < 3) throw new Error('the soak needs at least three windows');
  const grow = retainedBytes(last.sample) / Math.max(1, retainedBytes(second.sample));
  judge(
    grow <= 1.1,
    `retained state stops growing: ${(retainedBytes(second.sample) / MiB).toFixed(1)} MB after window 2, ${(retainedBytes(last.sample) / MiB).toFixed(1)} MB at the end (×${grow.toFixed(2)}, at most ×1.10)`,
  );
  for (const t of RETAINED) {
    const a = second.sample.tables[t]?.rows ?? 0;
    const b = last.sample.tables[t]?.rows ?? 0;
    checks.push(`    ${t}: ${a} → ${b} rows`);
  }
  judge(
    last.post.p99 <= second.post.p99 * 1.15,
    `POST p99 of the last window within 15 % of the second's: ${second.post.p99.toFixed(0)} → ${last.post.p99.toFixed(0)} ms`,
  );
  judge(
    last.e2e.p99 <= second.e2e.p99 * 1.15,
    `placed → shipped p99 of the last window within 15 % of the second's: ${second.e2e.p99.toFixed(0)} → ${last.e2e.p99.toFixed(0)} ms`,
  );
  const failedPosts = post.filter((p) => p.status === 0 || p.status >= 500).length;
  const failedReads = reads.filter((r) => r.status === 0 || r.status >= 500).length;
  judge(
    failedPosts + failedReads <= (post.length + reads.length) / 1000,
    `failed requests at most 0.1 %: ${failedPosts} POST and ${failedReads} reads of ${post.length + reads.length}`,
  );
  judge(gone.length === 0, `every process ran to the end${gone.length > 0 ? `: ${gone.join(', ')} exited` : ''}`);
  const later = samples.filter((s) => s.t >= windowMs);
  for (const name of o.processes) {
    // A least-squares line through the samples: its rise across them must stay within noise.
    const xs = later.map((s) => s.t / 1000);
    const ys = later.map((s) => s.rss[name] ?? 0);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const slope =
      xs.reduce((a, x, i) => a + (x - mx) * ((ys[i] as number) - my), 0) /
      Math.max(
        1e-9,
        xs.reduce((a, x) => a + (x - mx) ** 2, 0),
      );
    const rise = slope * ((xs[xs.length - 1] ?? 0) - (xs[0] ?? 0));
    const allowed = Math.max(0.05 * my, 16 * MiB);
    judge(
      rise < allowed,
      `${name} RSS flat: trend ${(rise / MiB).toFixed(1)} MB across the run from window 2 (mean ${(my / MiB).toFixed(0)} MB; allowed < ${(allowed / MiB).toFixed(0)} MB)`,
    );
  }
  return { checks, pass };
}
