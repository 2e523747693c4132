/** The webhook portal's routes: served, bundled for the browser, locked down by its Content-Security-Policy. */
import { describe, expect, test } from 'bun:test';
import { WEBHOOK_EVENT_TYPES } from '@orders/contracts';
import { suiteGateway } from './support';

const gw = suiteGateway();

describe('the webhook portal', () => {
  test('serves the page with a strict Content-Security-Policy and the navigation between the pages', async () => {
    const r = await gw.call('GET', '/portal');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toStartWith('text/html');
    const html = String(r.json);
    expect(html).toContain('<script type="module" src="/portal/app.js"></script>');
    for (const href of ['/track', '/portal', '/operator']) expect(html).toContain(`href="${href}"`);
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    // The portal talks to the API on its own origin only.
    expect(csp).toContain("connect-src 'self';");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
  });

  test('bundles its TypeScript for the browser, with the API’s event types', async () => {
    const js = await gw.call('GET', '/portal/app.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toStartWith('text/javascript');
    const code = String(js.json);
    expect(code).toContain('/api/v1/webhooks');
    for (const type of WEBHOOK_EVENT_TYPES) expect(code).toContain(type);
    expect(code).not.toContain('import ');
    expect(code).not.toContain('innerHTML');
    const css = await gw.call('GET', '/portal/app.css');
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toStartWith('text/css');
    // The shared rules first, then the portal's own.
    expect(String(css.json)).toContain('header nav');
    expect(String(css.json)).toContain('#secret-panel');
  });

  test('is no part of the API’s OpenAPI document', async () => {
    const doc = await gw.call('GET', '/openapi.json');
    const paths = Object.keys(doc.json.paths as Record<string, unknown>);
    expect(paths).toContain('/api/v1/webhooks');
    expect(paths.filter((p) => p.startsWith('/portal') || p.startsWith('/track'))).toEqual([]);
  });
});
