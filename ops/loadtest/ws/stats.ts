/**
 * Statistics of the ws-storm run: latency histograms (hdr-histogram-js, microseconds, 3 significant
 * digits) and the merging of the client processes' per-second reports into one figure per second and
 * per phase. Pure: the worker side encodes, the parent side (`StatsMerger`) decodes and merges.
 *
 * Counts are deltas (what happened since the process's previous report), gauges (`open`, `connecting`,
 * memory, CPU) are the process's latest value: a process whose report comes late is merged into the
 * next second rather than holding the others up.
 */
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { WorkerTick } from './protocol';

/** One latency histogram: microseconds, 1 µs resolution at the bottom, grows as needed. */
export function newHistogram(): Histogram {
  return build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** A latency in milliseconds (fractional) into a histogram of microseconds; clock noise below 0 counts as 0. */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.max(0, Math.round(ms * 1000)));
}

/** Empty histograms travel as '' (most seconds of an idle process). */
export function encodeHistogram(h: Histogram): string {
  return h.totalCount === 0 ? '' : encodeIntoCompressedBase64(h);
}

export function decodeHistogram(text: string): Histogram {
  if (text === '') return newHistogram();
  return decodeFromCompressedBase64(text, 32, false);
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

const ms = (us: number) => Math.round(us) / 1000;

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
  return {
    count: h.totalCount,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p90Ms: ms(h.getValueAtPercentile(90)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    maxMs: ms(h.maxValue),
  };
}

export type Phase = 'setup' | 'connect' | 'steady' | 'wave' | 'settle';

/** One second of the run, every client process merged (the fields the load-test tool reads come first). */
export interface WsSecond {
  /** Seconds since the run started. */
  t: number;
  /** Sockets authenticated (`ready`) at the end of the second. */
  open: number;
  /** Sockets in a handshake or waiting to retry one. */
  connecting: number;
  /** Status updates received in the second (live and replayed after a resume). */
  delivered: number;
  /**
   * Publish → receive of the live deliveries of the second (replays excluded: they waited for a
   * reconnect); null in a second without any.
   */
  deliveryP50Ms: number | null;
  deliveryP99Ms: number | null;
  /** Failed handshakes, unexpected closes, error frames, timeouts in the second. */
  errors: number;
  /** `resumed` answers received in the second. */
  resumed: number;
  phase: Phase;
  /** Updates published in the second. */
  published: number;
  /** Updates received through a resume's replay. */
  replayed: number;
  /** `resync` answers (the edge could not replay). */
  resync: number;
  /** Handshakes started in the second (first connections and reconnections). */
  attempts: number;
  /** The most any client process's event loop lagged in the second: above a few ms, the load generator itself adds latency. */
  clientLagMs: number;
}

/** Running totals of everything counted, over the whole run: the counters every tick carries, summed. */
export type Totals = Pick<
  WorkerTick,
  | 'delivered'
  | 'deliveredByEdge'
  | 'replayed'
  | 'repeats'
  | 'errors'
  | 'resumed'
  | 'resync'
  | 'attempts'
  | 'retries'
  | 'refreshed'
  | 'closes'
  | 'errorKinds'
>;

/** Every counter at zero: the merger's start, and a tick that counted nothing. */
export function emptyTotals(): Totals {
  return {
    delivered: 0,
    deliveredByEdge: [],
    replayed: 0,
    repeats: 0,
    errors: 0,
    resumed: 0,
    resync: 0,
    attempts: 0,
    retries: 0,
    refreshed: 0,
    closes: {},
    errorKinds: {},
  };
}

export interface WaveCounts {
  dropped: number;
  reopened: number;
  resumed: number;
  resync: number;
  lastReopenAt: number;
  lastDoneAt: number;
}

export interface ProcessGauge {
  pid: number;
  sockets: number;
  rssBytes: number;
  peakRssBytes: number;
  cpuMicros: number;
}

function addInto(into: Record<string, number>, from: Record<string, number>) {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/**
 * Merges the client processes' ticks: per second (`takeSecond`), per phase (latency histograms) and
 * over the run (totals); keeps each process's latest gauges and wave counts.
 */
export class StatsMerger {
  readonly totals: Totals = emptyTotals();
  /** Live and replay latency per phase, every process merged. */
  readonly live = new Map<Phase, Histogram>();
  readonly replay = new Map<Phase, Histogram>();
  private readonly gauges = new Map<number, { open: number; connecting: number } & ProcessGauge>();
  private readonly waves = new Map<number, WaveCounts>();
  private second = this.emptySecond();
  private secondLive = newHistogram();

  /** The most any client process's event loop lagged, per phase. */
  readonly lag = new Map<Phase, number>();

  private emptySecond() {
    return { delivered: 0, replayed: 0, errors: 0, resumed: 0, resync: 0, attempts: 0, lag: 0 };
  }

  private phaseHistogram(map: Map<Phase, Histogram>, phase: Phase): Histogram {
    let h = map.get(phase);
    if (!h) {
      h = newHistogram();
      map.set(phase, h);
    }
    return h;
  }

  /** One process's report, counted in `phase`. */
  add(tick: WorkerTick, phase: Phase): void {
    const prev = this.gauges.get(tick.worker);
    this.gauges.set(tick.worker, {
      open: tick.open,
      connecting: tick.connecting,
      pid: tick.pid,
      sockets: tick.sockets,
      rssBytes: tick.rssBytes,
      peakRssBytes: Math.max(prev?.peakRssBytes ?? 0, tick.rssBytes),
      cpuMicros: tick.cpuMicros,
    });
    this.waves.set(tick.worker, tick.wave);
    const s = this.second;
    s.delivered += tick.delivered + tick.replayed;
    s.replayed += tick.replayed;
    s.errors += tick.errors;
    s.resumed += tick.resumed;
    s.resync += tick.resync;
    s.attempts += tick.attempts;
    s.lag = Math.max(s.lag, tick.loopLagMs);
    this.lag.set(phase, Math.max(this.lag.get(phase) ?? 0, tick.loopLagMs));
    const t = this.totals;
    t.delivered += tick.delivered + tick.replayed;
    tick.deliveredByEdge.forEach((n, i) => {
      t.deliveredByEdge[i] = (t.deliveredByEdge[i] ?? 0) + n;
    });
    t.replayed += tick.replayed;
    t.repeats += tick.repeats;
    t.errors += tick.errors;
    t.resumed += tick.resumed;
    t.resync += tick.resync;
    t.attempts += tick.attempts;
    t.retries += tick.retries;
    t.refreshed += tick.refreshed;
    addInto(t.closes, tick.closes);
    addInto(t.errorKinds, tick.errorKinds);
    if (tick.live !== '') {
      const h = decodeHistogram(tick.live);
      this.secondLive.add(h);
      this.phaseHistogram(this.live, phase).add(h);
    }
    if (tick.replay !== '') this.phaseHistogram(this.replay, phase).add(decodeHistogram(tick.replay));
  }

  /** Sockets open and connecting, every process's latest report. */
  get open(): number {
    let n = 0;
    for (const g of this.gauges.values()) n += g.open;
    return n;
  }

  get connecting(): number {
    let n = 0;
    for (const g of this.gauges.values()) n += g.connecting;
    return n;
  }

  /** The wave's counts, every process summed; the latest instants across them. */
  get wave(): WaveCounts {
    const w: WaveCounts = { dropped: 0, reopened: 0, resumed: 0, resync: 0, lastReopenAt: 0, lastDoneAt: 0 };
    for (const x of this.waves.values()) {
      w.dropped += x.dropped;
      w.reopened += x.reopened;
      w.resumed += x.resumed;
      w.resync += x.resync;
      w.lastReopenAt = Math.max(w.lastReopenAt, x.lastReopenAt);
      w.lastDoneAt = Math.max(w.lastDoneAt, x.lastDoneAt);
    }
    return w;
  }

  processes(): ProcessGauge[] {
    return [...this.gauges.entries()].sort(([a], [b]) => a - b).map(([, g]) => ({ ...g }));
  }

  /** The second just ended: its merged figures, then a fresh second. */
  takeSecond(t: number, phase: Phase, published: number): WsSecond {
    const s = this.second;
    const out: WsSecond = {
      t,
      open: this.open,
      connecting: this.connecting,
      delivered: s.delivered,
      deliveryP50Ms: this.secondLive.totalCount === 0 ? null : ms(this.secondLive.getValueAtPercentile(50)),
      deliveryP99Ms: this.secondLive.totalCount === 0 ? null : ms(this.secondLive.getValueAtPercentile(99)),
      errors: s.errors,
      resumed: s.resumed,
      phase,
      published,
      replayed: s.replayed,
      resync: s.resync,
      attempts: s.attempts,
      clientLagMs: s.lag,
    };
    this.second = this.emptySecond();
    this.secondLive.reset();
    return out;
  }

  /** Live latency over the given phases. */
  latency(phases: Phase[], kind: 'live' | 'replay' = 'live'): LatencySummary {
    const h = newHistogram();
    const map = kind === 'live' ? this.live : this.replay;
    for (const p of phases) {
      const x = map.get(p);
      if (x) h.add(x);
    }
    return summarize(h);
  }
}
