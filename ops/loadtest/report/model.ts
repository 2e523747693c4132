/**
 * summary.json: everything a run measured, machine-readable, and everything report.html shows (the page
 * is rendered from this and nothing else). Bump SCHEMA_VERSION on any change a reader would notice.
 */
import type { Latency, SecondSample, Totals } from '../engine/recorder';
import type { MetricsSource } from '../metrics/sampler';

export const SCHEMA_VERSION = 1;

/** One target of the scenario: what was aimed for, what was measured, and whether it was met (null: not measured). */
export interface TargetResult {
  id: string;
  description: string;
  target: string;
  measured: string;
  met: boolean | null;
}

export interface ChartSeries {
  label: string;
  values: (number | null)[];
}

/** A chart over the run's seconds (`x`), one line per series; `note` says how to read it or why it is empty. */
export interface Chart {
  id: string;
  title: string;
  unit: string;
  x: number[];
  series: ChartSeries[];
  note?: string;
}

export interface Table {
  id: string;
  title: string;
  columns: string[];
  rows: (string | number | null)[][];
}

export interface Summary {
  schemaVersion: typeof SCHEMA_VERSION;
  scenario: string;
  startedAt: string;
  endedAt: string;
  durationS: number;
  short: boolean;
  interrupted: boolean;
  target: { gatewayUrl: string; wsUrls: string[]; local: 'dev' | 'test' | null };
  settings: Record<string, string | number | boolean | null>;
  users: { method: string; count: number; tier: string; notes: string[] } | null;
  admin: { source: string } | null;
  engine: { http: string; closedLoop: string | null; latency: string; generatorLatenessMs: { p99: number; max: number } | null };
  metrics: { source: MetricsSource; detail: string };
  /** HTTP totals of the measured requests (null: the scenario sent none, e.g. ws-storm without HTTP). */
  totals: Totals | null;
  perSecond: (SecondSample & { lag: number | null; limitedPerS: number | null })[];
  targets: TargetResult[];
  charts: Chart[];
  tables: Table[];
  /** The scenario's own figures (stock, phases, deliveries, sockets), as measured. */
  scenarioData: Record<string, unknown>;
  notes: string[];
}

export const fmtMs = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${v.toFixed(v < 10 ? 2 : 1)} ms`);

export function latencyText(l: Latency | null): string {
  return l ? `p50 ${fmtMs(l.p50)}, p95 ${fmtMs(l.p95)}, p99 ${fmtMs(l.p99)}` : 'no answers';
}

export function target(id: string, description: string, aim: string, measured: string, met: boolean | null): TargetResult {
  return { id, description, target: aim, measured, met };
}

/** Answers with a 5xx status, in `status` counts. */
export function count5xx(status: Record<string, number>): number {
  return Object.entries(status).reduce((n, [code, c]) => (Number(code) >= 500 ? n + c : n), 0);
}

/** Answers whose status is not in `allowed`, as "503 ×4, 500 ×1" (empty: none). */
export function unexpected(status: Record<string, number>, allowed: number[]): string {
  return Object.entries(status)
    .filter(([code]) => !allowed.includes(Number(code)))
    .map(([code, n]) => `${code} ×${n}`)
    .join(', ');
}
