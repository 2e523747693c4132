/**
 * Problem details (RFC 9457) for every HTTP error the platform returns: `application/problem+json`
 * with a stable `code` clients can switch on. Validation failures list the offending fields. No stack
 * traces, SQL or secrets ever go into a problem.
 */

import { PlatformErrorCodes } from '../error-codes';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface FieldError {
  /** JSON pointer-ish path of the field (`/items/0/quantity`). */
  field: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  instance?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** An error that knows its HTTP answer. Services throw it (or map their own errors to it). */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string>; [k: string]: unknown } = {},
  ) {
    super(detail ?? title);
  }
}

/** `ORDERS_NOT_FOUND` → `/problems/orders-not-found`: a stable, resolvable-relative problem type. */
function problemType(code: string): string {
  return `/problems/${code.toLowerCase().replaceAll('_', '-')}`;
}

export function toProblem(err: HttpError, instance?: string): Problem {
  const { headers: _headers, ...extensions } = err.extra;
  return {
    type: problemType(err.code),
    title: err.title,
    status: err.status,
    code: err.code,
    ...(err.detail ? { detail: err.detail } : {}),
    ...(instance ? { instance } : {}),
    ...extensions,
  };
}

export function problemResponse(err: HttpError, instance?: string): Response {
  return new Response(JSON.stringify(toProblem(err, instance)), {
    status: err.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, 'cache-control': 'no-store', ...err.extra.headers },
  });
}

/** The answer for anything unexpected: generic on purpose; the details go to the log, not the client. */
export function internalError(): HttpError {
  return new HttpError(
    500,
    PlatformErrorCodes.internal,
    'Internal server error',
    'The request could not be completed. It has been logged.',
  );
}
