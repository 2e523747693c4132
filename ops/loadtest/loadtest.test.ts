/**
 * The load-test tool end to end: each scenario's short run (`--short`, a few seconds) as a user would start
 * it, `bun ops/loadtest/cli.ts <scenario> --short --target <the test gateway>`, against the real test
 * services, then its report folder checked for completeness (summary.json, report.html with the summary
 * table and every chart's series) and consistency (achieved ≤ offered each second and in total, every
 * status counted, percentiles in order, times increasing). The test gateway runs with the platform's real
 * limits (the suites' relaxed ones would let every attack through), the per-address one raised so that
 * every scenario's users can be made from this one address.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayUrl, type Services, start, stop, useNamespace } from '../e2e/harness';
import { checkReport } from './report/check';
import type { Summary } from './report/model';

const LIMITS = {
  RATE_LIMIT_IP: '3000/1m',
  RATE_LIMIT_TIER_FREE: '50/1m',
  RATE_LIMIT_TIER_STANDARD: '100/1m',
  RATE_LIMIT_TIER_PREMIUM: '500/1m',
  RATE_LIMIT_ENDPOINT_POST_API_V1_ORDERS: '20/1m',
  RATE_LIMIT_ENDPOINT_GET_API_V1_ORDERS: '100/1m',
  RATE_LIMIT_LOGIN_ACCOUNT: '10/15m',
  // Registered users log in from this address in every run; the brute force binds on the per-account limit.
  RATE_LIMIT_LOGIN_IP: '500/15m',
};
const HTTP_CHARTS = ['rate', 'latency', 'status', 'lag', 'class-p99'];

let services: Services;
const out = mkdtempSync(join(tmpdir(), 'loadtest-'));

beforeAll(async () => {
  await useNamespace('loadtest');
  services = await start(undefined, LIMITS);
}, 90_000);

afterAll(async () => {
  if (services) await stop(services);
  rmSync(out, { recursive: true, force: true });
}, 60_000);

/** Runs one short scenario through the command line; its report folder and summary. */
async function shortRun(scenario: string, extra: string[] = []): Promise<{ dir: string; summary: Summary; stdout: string }> {
  const proc = Bun.spawn([process.execPath, 'loadtest/cli.ts', scenario, '--short', '--target', gatewayUrl, '--out', out, ...extra], {
    cwd: join(import.meta.dir, '..'),
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0 && code !== 1) throw new Error(`${scenario} exited ${code}\n${stderr.slice(-4000)}\n${stdout}`);
  const dir = /report: (.*)\/report\.html/.exec(stdout)?.[1];
  if (!dir) throw new Error(`${scenario}: no report path in\n${stdout}`);
  return { dir, summary: JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary, stdout };
}

const met = (summary: Summary, id: string) => summary.targets.find((t) => t.id === id)?.met;

describe('npm run loadtest, short runs', () => {
  test('steady: a report with every chart, the numbers consistent', async () => {
    const { dir, summary } = await shortRun('steady');
    expect(checkReport(dir, HTTP_CHARTS)).toEqual([]);
    expect(summary.totals?.offered).toBeGreaterThan(100);
    expect(summary.users?.method).toBe('dev-token');
    expect(met(summary, 'not-limited')).toBe(true);
  }, 60_000);

  test('steady with registered users: register + login, said so in the report', async () => {
    const { dir, summary } = await shortRun('steady', ['--users', 'register', '--rate', '10']);
    expect(checkReport(dir, HTTP_CHARTS)).toEqual([]);
    expect(summary.users?.method).toBe('register+login');
    expect(summary.users?.tier).toBe('free');
    expect(met(summary, 'not-limited')).toBe(true);
  }, 60_000);

  test('flash-sale: the ramp, the stock chart and table, and nothing oversold', async () => {
    const { dir, summary } = await shortRun('flash-sale');
    expect(checkReport(dir, [...HTTP_CHARTS, 'stock'])).toEqual([]);
    const peak = Math.max(...summary.perSecond.map((s) => s.offered));
    expect(peak).toBeGreaterThan(3 * (summary.perSecond[0]?.offered ?? 0));
    expect(summary.admin?.source).toBe('dev-token');
    expect(summary.tables.find((t) => t.id === 'sale')?.rows).toHaveLength(3);
    expect(met(summary, 'no-oversell')).toBe(true);
    expect(met(summary, 'stock-accounted')).toBe(true);
  }, 60_000);

  test('abuse: every attacker held to its limit, bystanders never refused', async () => {
    const { dir, summary } = await shortRun('abuse');
    expect(checkReport(dir, [...HTTP_CHARTS, 'attackers', 'refused', 'bystanders'])).toEqual([]);
    for (const id of ['attacker-user-held', 'attacker-address-held', 'brute-force-held', 'bystanders-not-limited', 'bystander-login'])
      expect([id, met(summary, id)]).toEqual([id, true]);
    // The attackers really were refused: the limits bound them.
    expect(summary.totals?.byClass['attacker-user']?.status['429']).toBeGreaterThan(0);
  }, 60_000);

  test('webhook-storm: outcomes per endpoint class, the fast ones all delivered', async () => {
    const { dir, summary } = await shortRun('webhook-storm');
    expect(checkReport(dir, [...HTTP_CHARTS, 'webhooks', 'webhook-latency'])).toEqual([]);
    expect(summary.tables.find((t) => t.id === 'webhooks')?.rows).toHaveLength(3);
    expect(met(summary, 'fast-succeeded')).toBe(true);
  }, 60_000);

  test('ws-storm: a complete report of the sockets', async () => {
    const { dir, summary } = await shortRun('ws-storm', ['--namespace', 'loadtest']);
    expect(checkReport(dir, ['ws-sockets', 'ws-deliveries', 'ws-latency', 'lag'])).toEqual([]);
    expect(met(summary, 'ws-opened')).toBe(true);
    expect(summary.tables.find((t) => t.id === 'ws')?.rows.length).toBeGreaterThan(5);
  }, 60_000);
});

test('usage errors exit 2 with the usage', async () => {
  const proc = Bun.spawn([process.execPath, 'loadtest/cli.ts', 'steady', '--rate', '0', '--duration', 'forever'], {
    cwd: join(import.meta.dir, '..'),
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  expect(code).toBe(2);
  expect(stderr).toContain('--rate must be a number above 0');
  expect(stderr).toContain('--duration: "forever" is not a time');
  expect(stderr).toContain('usage: npm run loadtest');
});
