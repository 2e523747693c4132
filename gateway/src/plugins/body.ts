/**
 * Request bodies: JSON only, size-limited, parsed here so every failure is a problem+json answer and
 * nothing reaches a handler half-read. The limit is enforced on the bytes actually received, not only
 * on Content-Length, so a chunked upload cannot get around it.
 *
 * Before parsing, the nesting depth is counted in one pass over the text: a body of 30,000 nested
 * arrays (60 KB, no credentials needed) took the parser and the schema check 3.7 s of the event loop and
 * ended in a 500. After parsing, no string (value or key) may hold NUL, which PostgreSQL refuses in
 * text: that was a 500 on every route that stores a string; the query string is held to the same rule.
 */
import { HttpError } from '@orders/platform';
import { Elysia } from 'elysia';
import { GatewayErrorCodes } from '../error-codes';

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;|$)/i;

async function readLimited(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) throw tooLarge(limit);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  // A declared length within the limit: Bun's server enforces it, so the fast whole-body read is safe.
  if (Number.isInteger(declared)) return decoder.decode(await request.arrayBuffer());
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return decoder.decode(Buffer.concat(chunks));
}

/** Deepest nesting of arrays and objects a body may have; the API's own documents need 4. */
export const MAX_BODY_DEPTH = 32;

/** Whether arrays and objects nest deeper than `max` (strings skipped, escapes honoured). */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > max) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}

/** The JSON pointer of the first string (or key) holding NUL, if any. */
export function nulPath(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path || '/' : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulPath(value[i], `${path}/${i}`);
      if (found) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      const at = `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1').replaceAll('\u0000', '\\u0000')}`;
      if (key.includes('\u0000')) return at;
      const found = nulPath(v, at);
      if (found) return found;
    }
  }
  return undefined;
}

/** The validation problem for one field, in the shape the schema validator's answers have. */
function invalidField(where: 'body' | 'query', field: string, message: string) {
  return new HttpError(400, GatewayErrorCodes.validationFailed, 'Request validation failed', `The ${where} has 1 invalid field(s).`, {
    errors: [{ field, message }],
  });
}

const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';

function tooLarge(limit: number) {
  return new HttpError(413, GatewayErrorCodes.bodyTooLarge, 'Request body too large', `The body must not exceed ${limit} bytes.`);
}

export function jsonBody(limitBytes: number) {
  return new Elysia({ name: 'json-body', normalize: false })
    .onParse({ as: 'global' }, async ({ request, contentType }) => {
      if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'DELETE') return;
      if (!JSON_TYPE.test(contentType ?? '')) {
        if (request.headers.get('content-length') === '0' || !request.body) return;
        throw new HttpError(415, GatewayErrorCodes.unsupportedMediaType, 'Unsupported media type', 'Send the body as application/json.');
      }
      let text: string;
      try {
        text = await readLimited(request, limitBytes);
      } catch (err) {
        if (err instanceof HttpError) throw err;
        throw new HttpError(400, GatewayErrorCodes.malformedBody, 'Malformed request body', 'The body is not valid UTF-8.');
      }
      if (text.trim() === '')
        throw new HttpError(
          400,
          GatewayErrorCodes.malformedBody,
          'Malformed request body',
          'The body is empty; a JSON document was expected.',
        );
      if (nestsDeeperThan(text, MAX_BODY_DEPTH))
        throw new HttpError(
          400,
          GatewayErrorCodes.bodyTooDeep,
          'Request body nested too deeply',
          `Arrays and objects may nest at most ${MAX_BODY_DEPTH} deep.`,
        );
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new HttpError(400, GatewayErrorCodes.malformedBody, 'Malformed request body', 'The body is not valid JSON.');
      }
      // Every body this API takes is an object. An optional body left Elysia's validator with nothing to
      // check a bare number or string against (it was accepted as "no body"): refused here for all routes.
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidField('body', '/', 'must be a JSON object');
      // JSON can carry NUL only as the escape \u0000: look for it in the text before walking the value.
      const nul = text.includes('\\u0000') ? nulPath(body) : undefined;
      if (nul) throw invalidField('body', nul, NUL_MESSAGE);
      return body;
    })
    .onTransform({ as: 'global' }, ({ query, request }) => {
      // NUL can reach a query value only percent-encoded: most requests are done with one search.
      if (!request.url.includes('%00')) return;
      for (const [name, value] of Object.entries(query ?? {})) {
        const values: unknown[] = Array.isArray(value) ? value : [value];
        if (name.includes('\u0000') || values.some((v) => typeof v === 'string' && v.includes('\u0000')))
          throw invalidField('query', `/query/${name.replaceAll('\u0000', '\\u0000')}`, NUL_MESSAGE);
      }
    });
}
