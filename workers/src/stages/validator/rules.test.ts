import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OrderPlaced } from '@orders/contracts';
import { samplePayloads } from '@orders/contracts/testing/samples';
import { RejectionReasons } from '../reasons';
import { MAX_ORDER_TOTAL_CENTS, validateOrder } from './rules';

const order: OrderPlaced = samplePayloads['order.placed'];
const catalogue = new Map([
  ['SKU-MUG', { sku: 'SKU-MUG', currency: 'EUR', active: true }],
  ['SKU-TEE', { sku: 'SKU-TEE', currency: 'EUR', active: true }],
]);

describe('validator rules', () => {
  it('accepts a consistent order', () => {
    assert.ok(validateOrder(order, catalogue).ok);
  });

  it('rejects products that are no longer sold, naming them', () => {
    const v = validateOrder(order, new Map([...catalogue, ['SKU-TEE', { sku: 'SKU-TEE', currency: 'EUR', active: false }]]));
    assert.deepEqual(v, { ok: false, code: RejectionReasons.productUnavailable, reason: 'no longer sold: SKU-TEE' });
    assert.equal(validateOrder(order, new Map()).ok, false);
  });

  it('rejects a total that does not match its lines, and a currency mismatch', () => {
    assert.equal(
      (validateOrder({ ...order, totalCents: order.totalCents + 1 }, catalogue) as { code: string }).code,
      RejectionReasons.totalMismatch,
    );
    assert.equal((validateOrder({ ...order, currency: 'USD' }, catalogue) as { code: string }).code, RejectionReasons.currencyMismatch);
  });

  it('rejects orders above the amount limit and empty orders', () => {
    const big = {
      ...order,
      items: [{ sku: 'SKU-MUG', quantity: 1, unitPriceCents: MAX_ORDER_TOTAL_CENTS + 1 }],
      totalCents: MAX_ORDER_TOTAL_CENTS + 1,
    };
    assert.equal((validateOrder(big, catalogue) as { code: string }).code, RejectionReasons.amountLimit);
    assert.equal((validateOrder({ ...order, items: [], totalCents: 0 }, catalogue) as { code: string }).code, RejectionReasons.emptyOrder);
  });
});
