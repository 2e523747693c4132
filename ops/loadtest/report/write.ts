/**
 * Writes a run's report folder, `<out>/<scenario>-<ISO time>/`, with summary.json and report.html.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderHtml } from './html';
import type { Summary } from './model';

/** `2026-11-30T13:45:12.345Z` → `2026-11-30T13-45-12Z` (a folder name every file system takes). */
export function folderTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

export function writeReport(outDir: string, summary: Summary): string {
  const dir = resolve(outDir, `${summary.scenario}-${folderTime(summary.startedAt)}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(dir, 'report.html'), renderHtml(summary));
  return dir;
}
