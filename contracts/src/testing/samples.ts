/**
 * One valid payload per event type, typed against the payload interfaces: if a schema gains a required
 * field that the TypeScript type lacks (or the other way round), the round-trip test fails.
 */
import { randomUUID } from 'node:crypto';
import type { EventPayloads, EventType } from '../events';
import type { StatusUpdate } from '../status-feed';

const base = {
  eventId: '0192f5b4-6a1e-7cc0-9a57-1f1f5b0e8a01',
  occurredAt: 1_764_000_000_000,
  orderId: '0192f5b4-6a1e-7cc0-9a57-1f1f5b0e8a02',
  userId: '0192f5b4-6a1e-7cc0-9a57-1f1f5b0e8a03',
};

export const samplePayloads: { [K in EventType]: EventPayloads[K] } = {
  'order.placed': {
    ...base,
    currency: 'EUR',
    totalCents: 4_598,
    items: [
      { sku: 'SKU-MUG', quantity: 2, unitPriceCents: 1_299 },
      { sku: 'SKU-TEE', quantity: 1, unitPriceCents: 2_000 },
    ],
    paymentMethodToken: 'pm_tok_visa_4242',
  },
  'order.updated': {
    ...base,
    revision: 2,
    currency: 'EUR',
    totalCents: 1_299,
    items: [{ sku: 'SKU-MUG', quantity: 1, unitPriceCents: 1_299 }],
    paymentMethodToken: null,
  },
  'order.validated': { ...base, riskScore: 0.12, revision: 1 },
  'order.rejected': { ...base, code: 'UNKNOWN_SKU', reason: 'SKU-NOPE is not sold', revision: 1 },
  'payment.authorized': { ...base, paymentId: 'pay_1', amountCents: 4_598, currency: 'EUR' },
  'payment.failed': { ...base, code: 'CARD_DECLINED', reason: 'declined by issuer' },
  'payment.refunded': { ...base, paymentId: 'pay_1', amountCents: 4_598, reason: 'out of stock' },
  'stock.reserved': { ...base, reservationId: 'res_1' },
  'stock.unavailable': { ...base, skus: ['SKU-TEE'] },
  'stock.released': { ...base, reservationId: 'res_1', reason: 'order cancelled' },
  'order.shipped': { ...base, shipmentId: 'shp_1', carrier: 'DHL', trackingNumber: 'JD0000001' },
  'order.cancelled': { ...base, reason: 'changed my mind', cancelledBy: base.userId, previousStatus: 'paid' },
  'order.status_changed': {
    ...base,
    fromStatus: 'pending',
    toStatus: 'validated',
    version: 2,
    reason: null,
    causationEventId: '0192f5b4-6a1e-7cc0-9a57-1f1f5b0e8a04',
    causationType: 'order.validated',
  },
};

/** A live status update for a user: the feed's unit of delivery. */
export function sampleStatusUpdate(userId: string, seq: number): StatusUpdate {
  return {
    type: 'order.status',
    seq,
    userId,
    orderId: randomUUID(),
    status: 'validated',
    previousStatus: 'pending',
    version: 2,
    reason: null,
    occurredAt: Date.now(),
    eventId: randomUUID(),
  };
}
