/**
 * A new order, computed in full before anything is written: its ids, lines, `order.placed` event and
 * outbox row, the answer the client will get, and the idempotency record that replays that answer. The
 * writer only stores it, so a batch can hold many and a retry writes exactly the same order again.
 */
import { Events, type OrderPlaced } from '@orders/contracts';
import type { Principal } from '@orders/platform';
import { newId } from '../../ids';
import { outboxEntry } from '../../outbox/write';
import type { CreateOrderBody } from './model';
import type { Priced } from './pricing';
import { toView } from './rows';
import type { IdempotencyRecord, OrderDraft } from './write-batch';

export function newOrderDraft(opts: {
  principal: Principal;
  body: CreateOrderBody;
  priced: Priced;
  idempotency: IdempotencyRecord | null;
  trace: string | undefined;
  now: Date;
}): OrderDraft {
  const { principal, body, priced, now } = opts;
  const { lines, currency, total } = priced;
  const orderId = newId();
  const event: OrderPlaced = {
    eventId: newId(),
    occurredAt: now.getTime(),
    orderId,
    userId: principal.userId,
    currency,
    totalCents: total,
    items: lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPriceCents: l.unit_price_cents })),
    paymentMethodToken: body.paymentMethodToken ?? null,
  };
  const view = toView({
    id: orderId,
    user_id: principal.userId,
    status: 'pending',
    status_reason: null,
    currency,
    total_cents: total,
    version: 1,
    revision: 1,
    created_at: now,
    updated_at: now,
    items: lines,
  });
  return {
    order: {
      id: orderId,
      user_id: principal.userId,
      status: 'pending',
      currency,
      total_cents: total,
      payment_method_token: body.paymentMethodToken ?? null,
      version: 1,
      revision: 1,
      created_at: now,
      updated_at: now,
    },
    items: lines.map((l) => ({ ...l, order_id: orderId })),
    outbox: outboxEntry({ type: Events.OrderPlaced, event, aggregateId: orderId, trace: opts.trace }),
    view,
    idempotency: opts.idempotency,
  };
}
