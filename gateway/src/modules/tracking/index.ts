/**
 * The live tracking page at `/track`: one HTML file, its stylesheet, and its script, which Bun bundles
 * from TypeScript on first request (a few ms; no build step, no framework). The page talks to the REST
 * API on this origin and to the WebSocket edge at TRACKING_WS_URL (same origin `/ws/orders` when unset,
 * as behind nginx). A strict Content-Security-Policy allows nothing else.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Elysia } from 'elysia';

const PAGE_DIR = join(import.meta.dir, 'page');

const escapeAttribute = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The bundle, built once per process; a failed build is retried on the next request. */
let bundle: Promise<string> | undefined;
function script(): Promise<string> {
  bundle ??= Bun.build({ entrypoints: [join(PAGE_DIR, 'app.ts')], target: 'browser', minify: true })
    .then(async (r) => {
      const out = r.outputs[0];
      if (!r.success || !out) throw new AggregateError(r.logs, 'the tracking page script did not build');
      return out.text();
    })
    .catch((err) => {
      bundle = undefined;
      throw err;
    });
  return bundle;
}

export function trackingModule(wsUrl: string) {
  const html = readFileSync(join(PAGE_DIR, 'index.html'), 'utf8').replace('%WS_URL%', escapeAttribute(wsUrl));
  const css = readFileSync(join(PAGE_DIR, 'app.css'), 'utf8');
  const wsOrigin = wsUrl ? new URL(wsUrl).origin.replace(/^http/, 'ws') : '';
  const security = {
    'content-security-policy': [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      `connect-src 'self' ${wsOrigin}`.trim(),
      "img-src 'self' data:",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join('; '),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
  };
  const send = (body: string, type: string) => new Response(body, { headers: { ...security, 'content-type': type } });
  return new Elysia({ name: 'tracking-page', normalize: false })
    .get('/track', () => send(html, 'text/html; charset=utf-8'))
    .get('/track/app.css', () => send(css, 'text/css; charset=utf-8'))
    .get('/track/app.js', async () => send(await script(), 'text/javascript; charset=utf-8'));
}
