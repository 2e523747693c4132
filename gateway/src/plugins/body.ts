/**
 * Request bodies: JSON only, size-limited, parsed here so every failure is a problem+json answer and
 * nothing reaches a handler half-read. The limit is enforced on the bytes actually received, not only
 * on Content-Length, so a chunked upload cannot get around it.
 */
import { HttpError } from '@orders/platform';
import { Elysia } from 'elysia';

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

function tooLarge(limit: number) {
  return new HttpError(413, 'BODY_TOO_LARGE', 'Request body too large', `The body must not exceed ${limit} bytes.`);
}

export function jsonBody(limitBytes: number) {
  return new Elysia({ name: 'json-body', normalize: false }).onParse({ as: 'global' }, async ({ request, contentType }) => {
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'DELETE') return;
    if (!JSON_TYPE.test(contentType ?? '')) {
      if (request.headers.get('content-length') === '0' || !request.body) return;
      throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported media type', 'Send the body as application/json.');
    }
    let text: string;
    try {
      text = await readLimited(request, limitBytes);
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, 'MALFORMED_BODY', 'Malformed request body', 'The body is not valid UTF-8.');
    }
    if (text.trim() === '')
      throw new HttpError(400, 'MALFORMED_BODY', 'Malformed request body', 'The body is empty; a JSON document was expected.');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new HttpError(400, 'MALFORMED_BODY', 'Malformed request body', 'The body is not valid JSON.');
    }
  });
}
