/**
 * The error codes the platform's shared layers raise, and the HTTP-level codes every service answers
 * with (problem+json `code`). One registry, every code prefixed by the area it belongs to, so a code in
 * a log line or a client's branch says where it came from. Each service keeps its own registry for its
 * domain (`gateway/src/error-codes.ts`, …) and reuses these for the generic answers.
 */
export const PlatformErrorCodes = {
  // The request as such (any route).
  malformedBody: 'REQUEST_MALFORMED_BODY',
  validationFailed: 'REQUEST_VALIDATION_FAILED',
  unsupportedMediaType: 'REQUEST_UNSUPPORTED_MEDIA_TYPE',
  bodyTooLarge: 'REQUEST_BODY_TOO_LARGE',
  bodyTooDeep: 'REQUEST_BODY_TOO_DEEP',
  routeNotFound: 'REQUEST_ROUTE_NOT_FOUND',
  methodNotAllowed: 'REQUEST_METHOD_NOT_ALLOWED',
  // The service's own state.
  internal: 'SERVICE_INTERNAL_ERROR',
  notReady: 'SERVICE_NOT_READY',
  // Authentication and authorisation.
  tokenMissing: 'AUTH_TOKEN_MISSING',
  tokenInvalid: 'AUTH_TOKEN_INVALID',
  tokenExpired: 'AUTH_TOKEN_EXPIRED',
  tokenRevoked: 'AUTH_TOKEN_REVOKED',
  forbidden: 'AUTH_FORBIDDEN',
  // Rate limiting.
  rateLimited: 'RATE_LIMIT_EXCEEDED',
  rateLimiterUnavailable: 'RATE_LIMITER_UNAVAILABLE',
  // Dependencies.
  databaseUnavailable: 'DATABASE_UNAVAILABLE',
  databaseCircuitOpen: 'DATABASE_CIRCUIT_OPEN',
  // Start-up.
  invalidConfig: 'PLATFORM_INVALID_CONFIG',
} as const;

export type PlatformErrorCode = (typeof PlatformErrorCodes)[keyof typeof PlatformErrorCodes];
