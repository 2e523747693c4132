/**
 * Serves one of the gateway's pages (the tracking page at `/track`, the webhook portal at `/portal`, the
 * operator console at `/operator`): its HTML file, its stylesheet (the shared base rules, then its own),
 * and its script, which Bun bundles from TypeScript on first request (a few ms; no build step, no
 * framework). The pages talk to the REST API on this origin, and to nothing else unless `connect` names
 * it. A strict Content-Security-Policy allows nothing more.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Elysia } from 'elysia';

const SHARED_DIR = join(import.meta.dir, 'shared');

export const escapeAttribute = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export interface PageSpec {
  /** The Elysia plugin's name (unique per page). */
  name: string;
  /** Where the page lives: `/track` serves the HTML, `/track/app.css` and `/track/app.js` the rest. */
  path: string;
  /** The folder holding index.html, app.css and app.ts. */
  dir: string;
  /** `%KEY%` placeholders in index.html and their values (escaped for an attribute here). */
  placeholders?: Record<string, string>;
  /** Origins the script may connect to besides this one (the WebSocket edge's, for the tracking page). */
  connect?: string[];
}

/** Builds a page script once per process; a failed build is retried on the next request. */
function bundler(entry: string): () => Promise<string> {
  let bundle: Promise<string> | undefined;
  return () => {
    bundle ??= Bun.build({ entrypoints: [entry], target: 'browser', minify: true })
      .then(async (r) => {
        const out = r.outputs[0];
        if (!r.success || !out) throw new AggregateError(r.logs, `the page script ${entry} did not build`);
        return out.text();
      })
      .catch((err) => {
        bundle = undefined;
        throw err;
      });
    return bundle;
  };
}

export function pageModule({ name, path, dir, placeholders = {}, connect = [] }: PageSpec) {
  let html = readFileSync(join(dir, 'index.html'), 'utf8');
  for (const [key, value] of Object.entries(placeholders)) html = html.replaceAll(`%${key}%`, escapeAttribute(value));
  const css = `${readFileSync(join(SHARED_DIR, 'base.css'), 'utf8')}\n${readFileSync(join(dir, 'app.css'), 'utf8')}`;
  const script = bundler(join(dir, 'app.ts'));
  const security = {
    'content-security-policy': [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      ["connect-src 'self'", ...connect].join(' '),
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
  // A page is not part of the API: kept out of the OpenAPI document (and so out of its conformance run).
  const hidden = { detail: { hide: true } };
  return new Elysia({ name, normalize: false })
    .get(path, () => send(html, 'text/html; charset=utf-8'), hidden)
    .get(`${path}/app.css`, () => send(css, 'text/css; charset=utf-8'), hidden)
    .get(`${path}/app.js`, async () => send(await script(), 'text/javascript; charset=utf-8'), hidden);
}
