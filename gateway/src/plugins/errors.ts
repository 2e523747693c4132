/**
 * The one place where gateway errors become HTTP answers: every error is problem+json (RFC 9457) with
 * a stable code. Validation failures list the fields (paths and rules, never the submitted values);
 * anything unexpected is logged with its stack and answered with a generic 500.
 */
import {
  AuthError,
  type FieldError,
  HttpError,
  internalError,
  isDatabaseUnavailable,
  type Logger,
  problemResponse,
} from '@orders/platform';
import { Elysia, ValidationError } from 'elysia';
import { GatewayErrorCodes } from '../error-codes';
import { DomainError, STATUS_BY_KIND } from '../errors';

/** What a 503 for an unreachable dependency tells clients to wait before retrying. */
const RETRY_AFTER_SECONDS = 5;

export function authProblem(err: AuthError): HttpError {
  const headers = { 'www-authenticate': `Bearer error="invalid_token", error_description="${err.message}"` };
  if (err.code === GatewayErrorCodes.tokenMissing)
    return new HttpError(401, err.code, 'Authentication required', err.message, { headers: { 'www-authenticate': 'Bearer' } });
  const title =
    { [GatewayErrorCodes.tokenExpired]: 'Token expired', [GatewayErrorCodes.tokenRevoked]: 'Session ended' }[err.code as string] ??
    'Invalid token';
  return new HttpError(401, err.code, title, err.message, { headers });
}

function validationProblem(err: ValidationError): HttpError {
  const where = err.type === 'body' ? '' : `/${err.type}`;
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  for (const e of err.all) {
    const path = 'path' in e && typeof e.path === 'string' ? e.path : '';
    const message = 'message' in e && typeof e.message === 'string' ? e.message : 'is not valid';
    const key = `${path}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    errors.push({ field: `${where}${path}` || '/', message });
  }
  return new HttpError(
    400,
    GatewayErrorCodes.validationFailed,
    'Request validation failed',
    `The ${err.type} has ${errors.length} invalid field(s).`,
    {
      errors: errors.slice(0, 50),
    },
  );
}

/** `methodsOf(path)`: the methods a path has (for 405 with Allow), empty for an unknown path. */
export function errorHandler(logger: Logger, methodsOf: (path: string) => string[] = () => []) {
  return new Elysia({ name: 'errors', normalize: false }).onError({ as: 'global' }, ({ code, error, request, path, set }) => {
    let http: HttpError;
    // Elysia wraps whatever a parser throws in a ParseError; the body plugin's own answer is the cause.
    if (code === 'PARSE' && error instanceof Error && error.cause instanceof HttpError) http = error.cause;
    else if (error instanceof HttpError) http = error;
    else if (error instanceof DomainError)
      http = new HttpError(STATUS_BY_KIND[error.kind], error.code, error.title, error.message, error.extra);
    else if (error instanceof AuthError) http = authProblem(error);
    else if (error instanceof ValidationError) http = validationProblem(error);
    else if (code === 'NOT_FOUND') {
      const allow = methodsOf(path);
      http =
        allow.length > 0
          ? new HttpError(
              405,
              GatewayErrorCodes.methodNotAllowed,
              'Method not allowed',
              `${request.method} is not supported here; use ${allow.join(', ')}.`,
              {
                headers: { allow: allow.join(', ') },
              },
            )
          : new HttpError(404, GatewayErrorCodes.routeNotFound, 'Not found', `No route for ${request.method} ${path}.`);
    } else if (code === 'PARSE')
      http = new HttpError(400, GatewayErrorCodes.malformedBody, 'Malformed request body', 'The body could not be parsed.');
    else if (isDatabaseUnavailable(error)) {
      // Nothing half-written (every write is one transaction), but a connection lost during COMMIT leaves
      // unknown whether it went through: the client retries later with the same Idempotency-Key, which
      // replays the first answer if it did. A load balancer backs off through /readyz.
      logger.warn({ err: error, method: request.method, path, requestId: set.headers['x-request-id'] }, 'database unavailable');
      http = new HttpError(
        503,
        GatewayErrorCodes.databaseUnavailable,
        'Service unavailable',
        'The database cannot be reached; try again shortly (a write with the same Idempotency-Key).',
        {
          headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
        },
      );
    } else {
      logger.error(
        { err: error, method: request.method, path, requestId: set.headers['x-request-id'], traceId: set.headers['x-trace-id'] },
        'unhandled error',
      );
      http = internalError();
    }
    if (http.status >= 500 && error instanceof HttpError)
      logger.error({ code: http.code, path, requestId: set.headers['x-request-id'], traceId: set.headers['x-trace-id'] }, http.title);
    // What the metrics and logs see as this request's status (Elysia leaves 500 there for any error).
    set.status = http.status;
    const response = problemResponse(http, path);
    // Headers already decided for this request (request id, rate-limit state) belong on errors too.
    for (const [name, value] of Object.entries(set.headers)) {
      if (value !== undefined && !response.headers.has(name)) response.headers.set(name, String(value));
    }
    return response;
  });
}
