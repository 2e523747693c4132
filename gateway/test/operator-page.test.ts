/** The operator console's routes (issue #18): served, locked down by its Content-Security-Policy, bundled. */
import { describe, expect, test } from 'bun:test';
import { suiteGateway } from './support';

const gw = suiteGateway();

describe('the operator console page', () => {
  test('serves the page with a strict Content-Security-Policy and no other origin', async () => {
    const r = await gw.call('GET', '/operator');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toStartWith('text/html');
    const html = String(r.json);
    expect(html).toContain('<script type="module" src="/operator/app.js">');
    expect(html).toContain('href="/track"');
    expect(html).toContain('href="/portal"');
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self';");
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
  });

  test('bundles its TypeScript for the browser, against the admin API only', async () => {
    const js = await gw.call('GET', '/operator/app.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toStartWith('text/javascript');
    const code = String(js.json);
    expect(code).toContain('/api/v1/admin/pipeline');
    expect(code).toContain('/api/v1/admin/dlq/');
    expect(code).not.toContain('import ');
    // Types only come from the DLQ module's schemas: Elysia itself must not reach the browser.
    expect(code).not.toContain('elysia');
    const css = await gw.call('GET', '/operator/app.css');
    expect(css.status).toBe(200);
    expect(String(css.json)).toContain('#statuses');
  });

  test('the page is public, its data is not: the pipeline API refuses a customer', async () => {
    const customer = await gw.user('customer');
    const r = await gw.call('GET', '/api/v1/admin/pipeline', { token: customer.accessToken });
    // 404 until the pipeline module is wired; 403 once it is (the page then shows its "administrators" notice).
    expect(r.status).toBe(403);
    expect(r.json.code).toBe('AUTH_FORBIDDEN');
  });
});
