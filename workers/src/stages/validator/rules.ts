/**
 * Business rules an order must pass before anyone charges for it. Pure functions over the order and
 * the catalogue as it is now, so they are unit-tested without a database.
 */
import type { OrderPlaced } from '@orders/contracts';
import { type RejectionReason, RejectionReasons } from '../reasons';

export interface CatalogueEntry {
  sku: string;
  currency: string;
  active: boolean;
}

export type Verdict = { ok: true } | { ok: false; code: RejectionReason; reason: string };

/** Orders above this total go to manual review in a real shop; here they are refused. */
export const MAX_ORDER_TOTAL_CENTS = 1_000_000;

export function validateOrder(order: OrderPlaced, catalogue: Map<string, CatalogueEntry>): Verdict {
  if (order.items.length === 0) return { ok: false, code: RejectionReasons.emptyOrder, reason: 'the order has no lines' };
  const missing = order.items.filter((i) => !catalogue.get(i.sku)?.active).map((i) => i.sku);
  if (missing.length > 0) return { ok: false, code: RejectionReasons.productUnavailable, reason: `no longer sold: ${missing.join(', ')}` };
  const wrongCurrency = order.items.filter((i) => catalogue.get(i.sku)?.currency !== order.currency).map((i) => i.sku);
  if (wrongCurrency.length > 0)
    return { ok: false, code: RejectionReasons.currencyMismatch, reason: `priced in another currency: ${wrongCurrency.join(', ')}` };
  const sum = order.items.reduce((s, i) => s + i.quantity * i.unitPriceCents, 0);
  if (sum !== order.totalCents)
    return { ok: false, code: RejectionReasons.totalMismatch, reason: `lines add up to ${sum}, total says ${order.totalCents}` };
  if (order.totalCents > MAX_ORDER_TOTAL_CENTS)
    return { ok: false, code: RejectionReasons.amountLimit, reason: `total exceeds ${MAX_ORDER_TOTAL_CENTS} cents` };
  return { ok: true };
}
