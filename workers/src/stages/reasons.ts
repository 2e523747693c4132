/**
 * Why an order was refused, failed or compensated, as its customer sees it. These go out: in
 * `order.rejected`, `payment.failed`, `payment.refunded` and `stock.released`, in the order's
 * `status_reason` (`<CODE>: <text>`), and on in the status feed and the webhooks. Their values are a
 * contract with clients: add new ones, never rename one (reasons.test.ts pins them).
 *
 * The workers' internal error codes, which never reach a customer, are in ../error-codes.ts.
 */

/** `order.rejected` codes: the validator's verdict on the order. */
export const RejectionReasons = {
  emptyOrder: 'EMPTY_ORDER',
  productUnavailable: 'PRODUCT_UNAVAILABLE',
  currencyMismatch: 'CURRENCY_MISMATCH',
  totalMismatch: 'TOTAL_MISMATCH',
  amountLimit: 'AMOUNT_LIMIT',
  fraudSuspected: 'FRAUD_SUSPECTED',
} as const;

export type RejectionReason = (typeof RejectionReasons)[keyof typeof RejectionReasons];

/** `payment.failed` codes: the charge was answered, and not with money. */
export const PaymentFailureReasons = {
  cardDeclined: 'CARD_DECLINED',
  noPaymentMethod: 'NO_PAYMENT_METHOD',
} as const;

export type PaymentFailureReason = (typeof PaymentFailureReasons)[keyof typeof PaymentFailureReasons];

/**
 * Free-text reasons of compensations (a refund, released stock), kept on the payment and reservation
 * rows too. `outOfStock` also opens the status reason of an order that found no stock.
 */
export const CompensationReasons = {
  orderCancelled: 'order cancelled',
  outOfStock: 'out of stock',
  cancelledDuringCharge: 'order cancelled during the charge',
  /** A refund for an event with no reason of its own (none today). */
  other: 'compensation',
} as const;
