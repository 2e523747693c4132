/**
 * The error codes the workers raise: the code of a stage's RetryableError or PermanentError, and the
 * runtime's own for a failure that names none. They travel in the retry and dead-letter headers
 * (`retry-error-code`, `dlq-error-code`), in logs and in alerts; never to a customer. Each is prefixed
 * by the area that raises it. Generic answers of the workers' HTTP side reuse the platform's
 * (PlatformErrorCodes); errors from decoding events keep the contracts' own (CONTRACTS_*).
 *
 * Not here: why an order was refused or failed, which its customer sees (CARD_DECLINED, …): see
 * stages/reasons.ts.
 */
export const WorkerErrorCodes = {
  // The runtime: a stage failed with an error that carries no code of its own.
  pipelineHandlerFailed: 'PIPELINE_HANDLER_FAILED',
  // Events about an order (or a user) the database does not have, or cannot apply.
  inventoryUnknownOrder: 'INVENTORY_UNKNOWN_ORDER',
  fulfillmentUnknownOrder: 'FULFILLMENT_UNKNOWN_ORDER',
  projectorUnknownOrder: 'PROJECTOR_UNKNOWN_ORDER',
  projectorUnknownUser: 'PROJECTOR_UNKNOWN_USER',
  projectorBadStatus: 'PROJECTOR_BAD_STATUS',
  // The payment provider: retryable (unreachable, 5xx, busy with the same key) or permanent (refused).
  paymentProviderUnreachable: 'PAYMENT_PROVIDER_UNREACHABLE',
  paymentProviderError: 'PAYMENT_PROVIDER_ERROR',
  paymentProviderBusy: 'PAYMENT_PROVIDER_BUSY',
  paymentProviderRefused: 'PAYMENT_PROVIDER_REFUSED',
  paymentRefundRefused: 'PAYMENT_REFUND_REFUSED',
} as const;

export type WorkerErrorCode = (typeof WorkerErrorCodes)[keyof typeof WorkerErrorCodes];
