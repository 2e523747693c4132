/**
 * What a run measured, per second and per request class. A request is counted in the second it was
 * offered (its scheduled time for the open-loop engine, its send time for a closed-loop attacker), and
 * its answer, error or time-out lands in that same second, so for every second and in total:
 * offered = sent + dropped, sent = achieved + errors + timeouts, and the status codes add up to achieved.
 * A second's latency percentiles are those of the requests offered in it (hdr-histogram, microseconds).
 */
import { build, type Histogram } from 'hdr-histogram-js';

export interface Counts {
  offered: number;
  sent: number;
  /** Offered but not sent: the client was at its in-flight bound. */
  dropped: number;
  /** Answered with an HTTP status (any). */
  achieved: number;
  errors: number;
  timeouts: number;
  /** Answers by HTTP status code. */
  status: Record<string, number>;
}

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export type Measured = Counts & { latencyMs: Latency | null };
export type SecondSample = Measured & { t: number; byClass: Record<string, Measured> };
export type Totals = Measured & { byClass: Record<string, Measured> };

interface Cell {
  counts: Counts;
  hist: Histogram | null;
}

const emptyCounts = (): Counts => ({ offered: 0, sent: 0, dropped: 0, achieved: 0, errors: 0, timeouts: 0, status: {} });

function histogram(): Histogram {
  return build({ bitBucketSize: 'packed', numberOfSignificantValueDigits: 3, lowestDiscernibleValue: 1, autoResize: true });
}

const ms = (us: number) => Math.round(us) / 1000;

function latencyOf(h: Histogram | null): Latency | null {
  if (!h || h.totalCount === 0) return null;
  // A percentile is reported as its bucket's upper end, which can pass the largest value recorded.
  const max = ms(h.maxValue);
  const at = (p: number) => Math.min(max, ms(h.getValueAtPercentile(p)));
  return { p50: at(50), p95: at(95), p99: at(99), max };
}

/** Adds `from`'s counts into `into` (status codes by code). */
export function addCounts(into: Counts, from: Counts): void {
  into.offered += from.offered;
  into.sent += from.sent;
  into.dropped += from.dropped;
  into.achieved += from.achieved;
  into.errors += from.errors;
  into.timeouts += from.timeouts;
  for (const [code, n] of Object.entries(from.status)) into.status[code] = (into.status[code] ?? 0) + n;
}

/** What the progress line shows: answers since the last look, by kind. */
export interface Live {
  answered: number;
  ok: number;
  rejected4xx: number;
  limited: number;
  server5xx: number;
  failed: number;
}

export class Recorder {
  private readonly cells = new Map<string, Cell[]>();
  private live: Live = { answered: 0, ok: 0, rejected4xx: 0, limited: 0, server5xx: 0, failed: 0 };
  /** How late the generator sent requests against their schedule (a starved generator shows here). */
  readonly lateness = histogram();
  private t0 = performance.now();

  constructor(readonly classes: readonly string[]) {
    for (const c of classes) this.cells.set(c, []);
  }

  start(at = performance.now()): void {
    this.t0 = at;
  }

  /** The run's start, on performance.now()'s clock. */
  get startedAt(): number {
    return this.t0;
  }

  /** Milliseconds since the run started. */
  elapsedMs(at = performance.now()): number {
    return at - this.t0;
  }

  secondOf(at: number): number {
    return Math.max(0, Math.floor((at - this.t0) / 1000));
  }

  private cell(cls: string, second: number): Cell {
    const row = this.cells.get(cls);
    if (!row) throw new Error(`unknown request class "${cls}"`);
    for (let s = row.length; s <= second; s++) row.push({ counts: emptyCounts(), hist: null });
    return row[second] as Cell;
  }

  offer(cls: string, second: number): void {
    this.cell(cls, second).counts.offered++;
  }

  drop(cls: string, second: number): void {
    this.cell(cls, second).counts.dropped++;
  }

  send(cls: string, second: number, latenessMs = 0): void {
    this.cell(cls, second).counts.sent++;
    this.lateness.recordValue(Math.max(0, Math.round(latenessMs * 1000)));
  }

  answer(cls: string, second: number, status: number, latencyMs: number): void {
    const cell = this.cell(cls, second);
    cell.counts.achieved++;
    cell.counts.status[String(status)] = (cell.counts.status[String(status)] ?? 0) + 1;
    cell.hist ??= histogram();
    cell.hist.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
    this.live.answered++;
    if (status < 400) this.live.ok++;
    else if (status === 429) this.live.limited++;
    else if (status < 500) this.live.rejected4xx++;
    else this.live.server5xx++;
  }

  fail(cls: string, second: number, kind: 'error' | 'timeout'): void {
    const counts = this.cell(cls, second).counts;
    if (kind === 'timeout') counts.timeouts++;
    else counts.errors++;
    this.live.failed++;
  }

  /** The answers since the last call. */
  takeLive(): Live {
    const live = this.live;
    this.live = { answered: 0, ok: 0, rejected4xx: 0, limited: 0, server5xx: 0, failed: 0 };
    return live;
  }

  /** Seconds with anything offered, at least `minSeconds`. */
  get seconds(): number {
    return Math.max(0, ...[...this.cells.values()].map((row) => row.length));
  }

  /** Every second from 0 to the last one anything was offered in (or `minSeconds`), each class and all together. */
  perSecond(minSeconds = 0): SecondSample[] {
    const n = Math.max(minSeconds, this.seconds);
    const out: SecondSample[] = [];
    for (let s = 0; s < n; s++) {
      const all = emptyCounts();
      const merged = histogram();
      const byClass: Record<string, Measured> = {};
      for (const cls of this.classes) {
        const cell = this.cells.get(cls)?.[s];
        const counts = cell ? structuredClone(cell.counts) : emptyCounts();
        byClass[cls] = { ...counts, latencyMs: latencyOf(cell?.hist ?? null) };
        addCounts(all, counts);
        if (cell?.hist) merged.add(cell.hist);
      }
      out.push({ t: s, ...all, latencyMs: latencyOf(merged), byClass });
      merged.destroy();
    }
    return out;
  }

  /** The whole run, each class and all together. */
  totals(classes: readonly string[] = this.classes): Totals {
    const all = emptyCounts();
    const merged = histogram();
    const byClass: Record<string, Measured> = {};
    for (const cls of classes) {
      const counts = emptyCounts();
      const h = histogram();
      for (const cell of this.cells.get(cls) ?? []) {
        addCounts(counts, cell.counts);
        if (cell.hist) h.add(cell.hist);
      }
      byClass[cls] = { ...counts, latencyMs: latencyOf(h) };
      addCounts(all, counts);
      merged.add(h);
      h.destroy();
    }
    const totals = { ...all, latencyMs: latencyOf(merged), byClass };
    merged.destroy();
    return totals;
  }

  /** One second's p99 over every class (the progress line's figure), null without answers. */
  p99Of(second: number): number | null {
    const merged = histogram();
    for (const row of this.cells.values()) {
      const h = row[second]?.hist;
      if (h) merged.add(h);
    }
    const p99 = latencyOf(merged)?.p99 ?? null;
    merged.destroy();
    return p99;
  }

  /** Generator lateness p99 and max, in ms (null before anything was sent). */
  latenessMs(): { p99: number; max: number } | null {
    const l = latencyOf(this.lateness);
    return l && { p99: l.p99, max: l.max };
  }
}
