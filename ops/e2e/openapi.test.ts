/**
 * The OpenAPI document against the running gateway, by schemathesis (property-based, from PyPI): every
 * answer must be documented (status, content type, schema), no 5xx, 405 with Allow for a method a path
 * does not have, schema-violating requests refused. Bounded: a fixed seed and a few examples per
 * operation (`SCHEMATHESIS_MAX_EXAMPLES`, 10), loopback only.
 *
 * Left out, on purpose: `positive_data_acceptance` (a schema-valid request must succeed). Business
 * rules beyond the schema refuse some of them by design: an unknown SKU (422), a cursor that was not
 * handed out (400), a webhook URL the SSRF policy refuses (422).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cfg, gatewayUrl, type Services, start, stop } from './harness';

let services: Services;

beforeAll(async () => {
  services = await start(['gateway']);
}, 60_000);

afterAll(async () => {
  await stop(services);
});

describe('the OpenAPI document', () => {
  test('describes every answer the gateway gives (schemathesis, all checks)', async () => {
    const st = process.env.SCHEMATHESIS_BIN;
    const workDir = join(cfg.localDir, 'schemathesis');
    mkdirSync(workDir, { recursive: true });
    if (!st) throw new Error('SCHEMATHESIS_BIN is not set: run this suite through npm test (ops/local/test.mjs installs it)');
    const minted = await fetch(`${gatewayUrl}/api/v1/auth/dev-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // A customer, not an admin: the generated requests must not change the shared catalogue the other
      // suites order from (admin routes are still checked, through their 403s).
      body: JSON.stringify({ email: `st-${randomUUID()}@example.com`, role: 'customer', tier: 'enterprise' }),
    }).then((r) => r.json() as Promise<{ accessToken: string }>);
    const proc = Bun.spawn(
      [
        st,
        'run',
        `${gatewayUrl}/openapi.json`,
        '--header',
        `Authorization: Bearer ${minted.accessToken}`,
        '--checks',
        'all',
        '--exclude-checks',
        'positive_data_acceptance',
        '--max-examples',
        process.env.SCHEMATHESIS_MAX_EXAMPLES ?? '10',
        '--seed',
        '1',
        '--request-timeout',
        '10',
        '--no-color',
      ],
      // Its cache and reports go under .local/, never into the work tree.
      { stdout: 'pipe', stderr: 'pipe', cwd: workDir, env: { ...process.env, SCHEMATHESIS_HOOKS: '' } },
    );
    const timer = setTimeout(() => proc.kill(), 240_000);
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(timer);
    const summary = out.slice(out.lastIndexOf('SUMMARY') - 40);
    if (code !== 0) process.stderr.write(`${out}\n${err}\n`);
    else process.stdout.write(`${summary}\n`);
    expect(summary).toContain('Tested:');
    expect(code).toBe(0);
  }, 300_000);
});
