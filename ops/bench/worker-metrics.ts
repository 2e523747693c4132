/**
 * The workers' batch metrics as the benches read them: per stage, batches so far, messages in them,
 * seconds spent, and the seconds of each phase (prepare, apply, emit), from the workers' /metrics page.
 */

export type StageStat = { n: number; size: number; seconds: number; phases: Record<string, number> };

/** Each stage's batch count, messages and seconds so far (retry consumers as `<stage>.retry`). */
export async function stageStats(metricsUrl: string): Promise<Map<string, StageStat>> {
  const text = await fetch(metricsUrl).then((r) => r.text());
  const stats = new Map<string, StageStat>();
  for (const line of text.split('\n')) {
    const phase = /^orders_worker_batch_phase_seconds_sum\{[^}]*stage="([a-z]+)"[^}]*phase="([a-z]+)"[^}]*\} (\S+)$/.exec(line);
    if (phase) {
      const st = stats.get(phase[1] as string) ?? { n: 0, size: 0, seconds: 0, phases: {} };
      st.phases[phase[2] as string] = Number(phase[3]);
      stats.set(phase[1] as string, st);
      continue;
    }
    const m = /^orders_worker_batch_(seconds_count|seconds_sum|size_sum)\{[^}]*stage="([a-z.]+)"[^}]*\} (\S+)$/.exec(line);
    if (!m) continue;
    const st = stats.get(m[2] as string) ?? { n: 0, size: 0, seconds: 0, phases: {} };
    if (m[1] === 'seconds_count') st.n = Number(m[3]);
    else if (m[1] === 'seconds_sum') st.seconds = Number(m[3]);
    else st.size = Number(m[3]);
    stats.set(m[2] as string, st);
  }
  return stats;
}

/** "validator 40 × 25 in 12 ms (prepare 3/apply 5/emit 4), …": batches, their size and time, between two readings. */
export function batchStats(a: Map<string, StageStat>, b: Map<string, StageStat>): string {
  return [...b]
    .filter(([stage]) => !stage.endsWith('.retry'))
    .map(([stage, s]) => {
      const before = a.get(stage) ?? { n: 0, size: 0, seconds: 0, phases: {} };
      const n = s.n - before.n;
      if (n <= 0) return `${stage} none`;
      const each = (x: number) => ((x / n) * 1000).toFixed(0);
      const phases = Object.entries(s.phases)
        .map(([p, v]) => `${p} ${each(v - (before.phases[p] ?? 0))}`)
        .join('/');
      return `${stage} ${n} × ${((s.size - before.size) / n).toFixed(0)} in ${each(s.seconds - before.seconds)} ms (${phases})`;
    })
    .join(', ');
}
