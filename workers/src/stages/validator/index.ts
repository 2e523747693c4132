/**
 * validator: `order.placed` | `order.updated` → `order.validated` | `order.rejected`. Checks the order
 * against the catalogue and the business rules; emits the verdict, naming the revision it judged, for the
 * status projector and the later stages.
 */
import { ConsumerGroups, Events, type OrderPlaced, Topics } from '@orders/contracts';
import { event, type Stage } from '../../runtime/stage';
import { type CatalogueEntry, validateOrder } from './rules';

export const validatorStage: Stage = {
  name: 'validator',
  group: ConsumerGroups.validator,
  topics: [Topics.orderEvents],
  handles: [Events.OrderPlaced, Events.OrderUpdated],
  async handle(e, { tx, newId }) {
    if (e.type !== Events.OrderPlaced && e.type !== Events.OrderUpdated) return [];
    const order: OrderPlaced = { ...e.payload, paymentMethodToken: e.payload.paymentMethodToken };
    const revision = e.type === Events.OrderUpdated ? e.payload.revision : 1;
    const skus = order.items.map((i) => i.sku);
    const rows = await tx<CatalogueEntry[]>`SELECT sku, currency, active FROM products WHERE sku IN ${tx(skus)}`;
    const verdict = validateOrder(order, new Map(rows.map((r) => [r.sku, r])));
    const base = { eventId: newId(), occurredAt: Date.now(), orderId: order.orderId, userId: order.userId };
    return [
      verdict.ok
        ? event(Topics.orderEvents, Events.OrderValidated, order.orderId, { ...base, riskScore: verdict.riskScore, revision })
        : event(Topics.orderEvents, Events.OrderRejected, order.orderId, { ...base, code: verdict.code, reason: verdict.reason, revision }),
    ];
  },
};
