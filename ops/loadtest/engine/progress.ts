/**
 * The progress line, once a second on stderr while a scenario runs: where the run is, what was offered and
 * answered in the last second, the last full second's p99, and whatever the scenario adds (consumer lag,
 * open sockets). On a terminal it rewrites itself; in a log it is one line per second.
 */
import type { Recorder } from './recorder';

export interface Progress {
  stop(): void;
  /** Extra fields for the next lines (replaces earlier ones of the same name). */
  set(fields: Record<string, string | number | null>): void;
}

export function startProgress(label: string, durationS: number, recorder: Recorder | null, offeredNow: () => number): Progress {
  const tty = process.stderr.isTTY === true;
  const extra = new Map<string, string | number | null>();
  const timer = setInterval(() => {
    const t = recorder ? recorder.elapsedMs() / 1000 : 0;
    const parts = [`[${label}] ${Math.min(durationS, Math.floor(t))}/${durationS} s`];
    if (recorder) {
      const live = recorder.takeLive();
      const p99 = recorder.p99Of(Math.floor(t) - 1);
      parts.push(
        `offered ${offeredNow().toFixed(0)}/s`,
        `answered ${live.answered}/s (ok ${live.ok}, 4xx ${live.rejected4xx}, 429 ${live.limited}, 5xx ${live.server5xx}, failed ${live.failed})`,
        `p99 ${p99 === null ? '–' : `${p99.toFixed(1)} ms`}`,
      );
    }
    for (const [k, v] of extra) if (v !== null) parts.push(`${k} ${v}`);
    const line = parts.join(' │ ');
    process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
  }, 1000);
  return {
    stop() {
      clearInterval(timer);
      if (tty) process.stderr.write('\n');
    },
    set(fields) {
      for (const [k, v] of Object.entries(fields)) extra.set(k, v);
    },
  };
}
