/**
 * Every code the gateway answers with (problem+json `code`), in one registry. The generic answers
 * (request, service, token, rate limit, database) are the platform's own (`PlatformErrorCodes`, shared
 * with every service); the rest are the gateway's domain codes, each prefixed by its area. Codes are a
 * contract with clients: rename one only with the clients, tests and README that switch on it.
 */
import { PlatformErrorCodes } from '@orders/platform';

export const GatewayErrorCodes = {
  ...PlatformErrorCodes,
  // Orders.
  ordersNotFound: 'ORDERS_NOT_FOUND',
  ordersBadIfMatch: 'ORDERS_BAD_IF_MATCH',
  ordersBadCursor: 'ORDERS_BAD_CURSOR',
  ordersDuplicateSku: 'ORDERS_DUPLICATE_SKU',
  ordersUnknownSku: 'ORDERS_UNKNOWN_SKU',
  ordersMixedCurrency: 'ORDERS_MIXED_CURRENCY',
  ordersOutOfStock: 'ORDERS_OUT_OF_STOCK',
  ordersTotalTooLarge: 'ORDERS_TOTAL_TOO_LARGE',
  ordersBusy: 'ORDERS_BUSY',
  ordersVersionMismatch: 'ORDERS_VERSION_MISMATCH',
  ordersNotChangeable: 'ORDERS_NOT_CHANGEABLE',
  ordersNotCancellable: 'ORDERS_NOT_CANCELLABLE',
  // Idempotency-Key on order creation.
  idempotencyKeyMismatch: 'IDEMPOTENCY_KEY_MISMATCH',
  idempotencyKeyInFlight: 'IDEMPOTENCY_KEY_IN_FLIGHT',
  // Products.
  productsNotFound: 'PRODUCTS_NOT_FOUND',
  productsSkuTaken: 'PRODUCTS_SKU_TAKEN',
  // Accounts and sessions (the token codes are the platform's).
  authUnknownUser: 'AUTH_UNKNOWN_USER',
  authInvalidCredentials: 'AUTH_INVALID_CREDENTIALS',
  authEmailTaken: 'AUTH_EMAIL_TAKEN',
  authAccountLocked: 'AUTH_ACCOUNT_LOCKED',
  authRefreshInvalid: 'AUTH_REFRESH_INVALID',
  authRefreshRevoked: 'AUTH_REFRESH_REVOKED',
  authRefreshReused: 'AUTH_REFRESH_REUSED',
  authRefreshExpired: 'AUTH_REFRESH_EXPIRED',
  // Webhooks.
  webhookNotFound: 'WEBHOOK_NOT_FOUND',
  webhookUrlRefused: 'WEBHOOK_URL_REFUSED',
  webhookDisabled: 'WEBHOOK_DISABLED',
  webhookHeaderRefused: 'WEBHOOK_HEADER_REFUSED',
  webhookHeadersInvalid: 'WEBHOOK_HEADERS_INVALID',
  webhookRateLimitInvalid: 'WEBHOOK_RATE_LIMIT_INVALID',
  // Dead letters (admin).
  dlqNotFound: 'DLQ_NOT_FOUND',
  dlqBadCursor: 'DLQ_BAD_CURSOR',
  dlqReplayUnavailable: 'DLQ_REPLAY_UNAVAILABLE',
  dlqReplayInProgress: 'DLQ_REPLAY_IN_PROGRESS',
  // The pipeline view (admin).
  pipelineOrderNotFound: 'PIPELINE_ORDER_NOT_FOUND',
  pipelineBadCursor: 'PIPELINE_BAD_CURSOR',
  pipelineOrderFinal: 'PIPELINE_ORDER_FINAL',
  pipelineRedriveUnrecorded: 'PIPELINE_REDRIVE_UNRECORDED',
  pipelineRedriveUnavailable: 'PIPELINE_REDRIVE_UNAVAILABLE',
} as const;

export type GatewayErrorCode = (typeof GatewayErrorCodes)[keyof typeof GatewayErrorCodes];
