/**
 * `bun ops/loadtest/screenshot.ts [REPORT_DIR] [--out FILE]`: opens a report in headless Chromium (Debian's,
 * through playwright-core, as the browser tests do), waits for every chart to draw, and saves a full-page
 * screenshot (default docs/loadtest-report.png). Without REPORT_DIR: the newest full (not --short) steady
 * report under reports/. Fails when the page logs an error or asks for anything but its own file: the
 * report must render offline.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { loadtestEnv } from './env';
import type { Summary } from './report/model';

const ROOT = resolve(import.meta.dir, '..', '..');
const argv = process.argv.slice(2);
const outAt = argv.indexOf('--out');
const out = resolve(outAt >= 0 ? (argv[outAt + 1] ?? '') : join(ROOT, 'docs', 'loadtest-report.png'));
const given = argv.find((a, i) => !a.startsWith('--') && i !== outAt + 1);

function newestSteady(): string {
  const dir = join(ROOT, 'reports');
  const candidates = (existsSync(dir) ? readdirSync(dir) : [])
    .filter((d) => d.startsWith('steady-') && existsSync(join(dir, d, 'summary.json')))
    .map((d) => join(dir, d))
    .filter((d) => !(JSON.parse(readFileSync(join(d, 'summary.json'), 'utf8')) as Summary).short)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!candidates[0]) throw new Error('no full steady report under reports/: run `npm run loadtest -- steady` first');
  return candidates[0];
}

const dir = resolve(given ?? newestSteady());
const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;
const env = loadtestEnv();
const browser = await chromium.launch({
  executablePath: env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:')) problems.push(`asked for ${r.url()}`);
  });
  await page.goto(pathToFileURL(join(dir, 'report.html')).href);
  const drawn = summary.charts.filter((c) => c.series.some((s) => s.values.some((v) => v !== null))).length;
  await page.waitForFunction((n) => document.querySelectorAll('.uplot').length >= n, drawn, { timeout: 10_000 });
  await page.screenshot({ path: out, fullPage: true });
  if (problems.length > 0) throw new Error(`the report did not render cleanly:\n${problems.join('\n')}`);
  process.stdout.write(`${drawn} charts drawn; screenshot of ${dir}/report.html in ${out}\n`);
} finally {
  await browser.close();
}
