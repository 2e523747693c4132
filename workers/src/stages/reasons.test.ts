/**
 * Pins the customer-visible reasons: clients branch on these values (stored on orders, sent in events and
 * webhooks), so a rename must fail here first, on purpose.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompensationReasons, PaymentFailureReasons, RejectionReasons } from './reasons';

describe('customer-visible reasons', () => {
  it('keep their wire values', () => {
    assert.deepEqual(Object.values(RejectionReasons).sort(), [
      'AMOUNT_LIMIT',
      'CURRENCY_MISMATCH',
      'EMPTY_ORDER',
      'FRAUD_SUSPECTED',
      'PRODUCT_UNAVAILABLE',
      'TOTAL_MISMATCH',
    ]);
    assert.deepEqual(Object.values(PaymentFailureReasons).sort(), ['CARD_DECLINED', 'NO_PAYMENT_METHOD']);
    assert.deepEqual(Object.values(CompensationReasons).sort(), [
      'compensation',
      'order cancelled',
      'order cancelled during the charge',
      'out of stock',
    ]);
  });
});
