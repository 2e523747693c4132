/**
 * Domain errors the gateway's services throw. They know nothing of HTTP; `plugins/errors.ts` maps each
 * kind to a status. Codes come from the gateway's registry (`error-codes.ts`) and are stable.
 */
import type { GatewayErrorCode } from './error-codes';

export type DomainErrorKind =
  | 'bad_request'
  | 'not_found'
  | 'conflict'
  | 'unprocessable'
  | 'forbidden'
  | 'unauthenticated'
  | 'precondition_failed'
  | 'precondition_required'
  | 'locked'
  | 'unavailable';

export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly kind: DomainErrorKind,
    readonly code: GatewayErrorCode,
    readonly title: string,
    detail: string,
    /** Problem extensions; `headers` are sent as response headers instead. */
    readonly extra: { headers?: Record<string, string>; [k: string]: unknown } = {},
  ) {
    super(detail);
  }
}

export const STATUS_BY_KIND: Record<DomainErrorKind, number> = {
  bad_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  precondition_failed: 412,
  precondition_required: 428,
  locked: 423,
  unprocessable: 422,
  unavailable: 503,
};
