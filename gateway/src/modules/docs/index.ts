/**
 * The OpenAPI 3.1 document, generated from the routes themselves: TypeBox schemas are JSON Schema, so
 * each route's params, query, headers, body and response schemas (the very objects the routes validate
 * with) go into the document as they are. Built on first request, then served from memory; a docs page
 * renders it.
 *
 * Why not @elysiajs/openapi: merely importing it (it bundles zod) cost every request of this app
 * ~100 µs in-process (a one-off in-process comparison, GET /orders/:id from ~8,500 to ~5,000 req/s; not
 * in the benchmarks), for a document that never changes while the process runs. What it does for TypeBox routes fits in this file.
 */
import { OptionalKind } from '@sinclair/typebox';
import type { AnyElysia } from 'elysia';

const INFO = {
  title: 'Order platform API',
  version: '1.0.0',
  description: 'Orders, products and accounts. Every error is application/problem+json (RFC 9457) with a stable `code`.',
};

const HIDDEN = new Set(['/openapi.json', '/docs', '/metrics', '/track', '/track/app.css', '/track/app.js']);

/** The docs page loads the Scalar renderer from its CDN (the browser fetches it; the gateway serves no third-party code). */
const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${INFO.title}</title></head>
<body>
<script id="api-reference" data-url="/openapi.json"></script>
<script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1.34.6/dist/browser/standalone.min.js" crossorigin="anonymous"></script>
</body>
</html>`;

type Json = Record<string, unknown>;

/**
 * A route schema as a plain JSON Schema: symbol-keyed TypeBox metadata dropped, and Elysia's numeric
 * coercion wrappers (`anyOf: [{type: string, format: integer}, X]`) unwrapped to X.
 */
function clean(schema: unknown): Json | undefined {
  if (schema === undefined || schema === null) return undefined;
  const unwrap = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(unwrap);
    if (v === null || typeof v !== 'object') return v;
    const o = v as Json;
    const any = o.anyOf as Json[] | undefined;
    if (any?.length === 2 && any[0]?.type === 'string' && (any[0]?.format === 'integer' || any[0]?.format === 'numeric'))
      return unwrap(any[1]);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrap(x)]));
  };
  return unwrap(JSON.parse(JSON.stringify(schema))) as Json;
}

function parameters(schema: unknown, where: 'path' | 'query' | 'header'): Json[] {
  const s = clean(schema);
  const props = (s?.properties ?? {}) as Record<string, Json>;
  const required = new Set((s?.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, p]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(p.description ? { description: p.description } : {}),
    schema: p,
  }));
}

function buildOpenApiDocument(app: AnyElysia): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of app.routes) {
    const hooks = (route.hooks ?? {}) as Json;
    const detail = (hooks.detail ?? {}) as Json;
    if (HIDDEN.has(route.path) || detail.hide || route.method === 'ALL') continue;
    const path = route.path.replace(/:(\w+)/g, '{$1}').replace(/(.)\/$/, '$1');
    const responses: Record<string, Json> = {};
    for (const [status, schema] of Object.entries((hooks.response ?? {}) as Record<string, unknown>)) {
      const s = clean(schema);
      const isVoid = !s || Object.keys(s).length === 0 || s.type === 'void';
      responses[status] = {
        description: Number(status) >= 400 ? 'Problem details' : 'Success',
        ...(isVoid ? {} : { content: { [Number(status) >= 400 ? 'application/problem+json' : 'application/json']: { schema: s } } }),
      };
    }
    const body = clean(hooks.body);
    paths[path] ??= {};
    (paths[path] as Record<string, Json>)[route.method.toLowerCase()] = {
      ...detail,
      parameters: [...parameters(hooks.params, 'path'), ...parameters(hooks.query, 'query'), ...parameters(hooks.headers, 'header')],
      // A body declared t.Optional (cancel, rotate-secret) may be left out: the document says so.
      ...(body
        ? {
            requestBody: {
              required: (hooks.body as Record<symbol, unknown>)[OptionalKind] !== 'Optional',
              content: { 'application/json': { schema: body } },
            },
          }
        : {}),
      responses: Object.keys(responses).length > 0 ? responses : { 200: { description: 'Success' } },
    };
  }
  return {
    openapi: '3.1.1',
    info: INFO,
    paths,
    components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  };
}

const documents = new WeakMap<AnyElysia, Json>();

/** The app's OpenAPI document, built on first use and then kept. */
export function openApiDocument(app: AnyElysia): Json {
  let doc = documents.get(app);
  if (!doc) {
    doc = buildOpenApiDocument(app);
    documents.set(app, doc);
  }
  return doc;
}

export function docsPage(): Response {
  return new Response(PAGE, { headers: { 'content-type': 'text/html; charset=utf-8' } });
}
