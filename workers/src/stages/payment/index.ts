/**
 * payment: `order.validated` → `payment.authorized` | `payment.failed`; compensations refund an
 * authorized payment on `order.cancelled` and `stock.unavailable`, and on its own `payment.authorized`
 * when the order was cancelled while the charge was under way.
 *
 * Calls to the provider happen in `prepare` (outside transactions), up to `concurrency` at once, each
 * with an idempotency key derived from the order (a charge) or the payment (a refund): a crash before the
 * commit repeats the call and gets the same answer, never a second charge. `handle` records the outcome.
 */
import { ConsumerGroups, type DecodedEvent, Events, Topics } from '@orders/contracts';
import type { Sql } from '@orders/platform';
import { event, type Output, type Prepared, type TransactionalStage } from '../../runtime/stage';
import type { PaymentProvider } from './provider';

type Plan =
  | { kind: 'skip'; reason: string }
  | { kind: 'charged'; chargeId: string; amountCents: number; currency: string }
  | { kind: 'declined'; code: string; reason: string }
  | { kind: 'refunded'; paymentId: string; refundId: string; amountCents: number; reason: string };

interface OrderRow {
  status: string;
  total_cents: number;
  currency: string;
  payment_method_token: string | null;
  revision: number;
}

interface PaymentRow {
  id: string;
  provider_charge: string;
  amount_cents: number;
  status: string;
}

/** Runs `fn` over items with at most `limit` in flight. */
async function bounded<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

export function paymentStage(o: { sql: Sql; provider: PaymentProvider; concurrency: number }): TransactionalStage {
  const refundReason: Partial<Record<string, string>> = {
    [Events.OrderCancelled]: 'order cancelled',
    [Events.StockUnavailable]: 'out of stock',
    [Events.PaymentAuthorized]: 'order cancelled during the charge',
  };

  async function plan(e: DecodedEvent): Promise<Plan> {
    const { orderId } = e.payload;
    if (e.type === Events.OrderValidated) {
      const [order] = await o.sql<OrderRow[]>`
        SELECT status, total_cents, currency, payment_method_token, revision FROM orders WHERE id = ${orderId}`;
      if (!order) return { kind: 'skip', reason: 'order not found' };
      if (order.status === 'cancelled') return { kind: 'skip', reason: 'order cancelled before the charge' };
      const [paid] = await o.sql<PaymentRow[]>`SELECT id FROM payments WHERE order_id = ${orderId}`;
      if (paid) return { kind: 'skip', reason: 'already charged' };
      if (!order.payment_method_token) return { kind: 'declined', code: 'NO_PAYMENT_METHOD', reason: 'the order has no payment method' };
      const result = await o.provider.charge(`charge:${orderId}:${order.revision}`, {
        amountCents: order.total_cents,
        currency: order.currency,
        token: order.payment_method_token,
        reference: orderId,
      });
      return result.ok
        ? { kind: 'charged', chargeId: result.chargeId, amountCents: order.total_cents, currency: order.currency }
        : { kind: 'declined', code: result.code, reason: result.reason };
    }
    // A compensation: refund the authorized payment, if there is one.
    if (e.type === Events.PaymentAuthorized) {
      const [order] = await o.sql<{ status: string }[]>`SELECT status FROM orders WHERE id = ${orderId}`;
      if (order?.status !== 'cancelled') return { kind: 'skip', reason: 'order still live' };
    }
    const [payment] = await o.sql<PaymentRow[]>`SELECT id, provider_charge, amount_cents, status FROM payments WHERE order_id = ${orderId}`;
    if (!payment || payment.status !== 'authorized') return { kind: 'skip', reason: 'nothing to refund' };
    const refundId = await o.provider.refund(`refund:${payment.id}`, {
      chargeId: payment.provider_charge,
      amountCents: payment.amount_cents,
    });
    return {
      kind: 'refunded',
      paymentId: payment.id,
      refundId,
      amountCents: payment.amount_cents,
      reason: refundReason[e.type] ?? 'compensation',
    };
  }

  return {
    name: 'payment',
    group: ConsumerGroups.payment,
    topics: [Topics.orderEvents],
    handles: [Events.OrderValidated, Events.OrderCancelled, Events.StockUnavailable, Events.PaymentAuthorized],
    async prepare(events) {
      return bounded(events, o.concurrency, async (e): Promise<Prepared> => {
        try {
          return { ok: true, value: await plan(e) };
        } catch (error) {
          return { ok: false, error };
        }
      });
    },
    async handle(e, { tx, newId }, prepared) {
      const p = prepared as Plan;
      const base = { eventId: newId(), occurredAt: Date.now(), orderId: e.payload.orderId, userId: e.payload.userId };
      const out: Output[] = [];
      if (p.kind === 'charged') {
        const paymentId = newId();
        // Another delivery of this event may have recorded the same charge first: then it also emitted.
        const inserted = await tx`
          INSERT INTO payments (id, order_id, provider_charge, amount_cents, currency, status)
          VALUES (${paymentId}, ${e.payload.orderId}, ${p.chargeId}, ${p.amountCents}, ${p.currency}, 'authorized')
          ON CONFLICT DO NOTHING`;
        if (inserted.count === 1)
          out.push(
            event(Topics.orderEvents, Events.PaymentAuthorized, e.payload.orderId, {
              ...base,
              paymentId,
              amountCents: p.amountCents,
              currency: p.currency,
            }),
          );
      } else if (p.kind === 'declined') {
        out.push(event(Topics.orderEvents, Events.PaymentFailed, e.payload.orderId, { ...base, code: p.code, reason: p.reason }));
      } else if (p.kind === 'refunded') {
        const updated = await tx`
          UPDATE payments SET status = 'refunded', provider_refund = ${p.refundId}, refund_reason = ${p.reason}, refunded_at = now()
          WHERE id = ${p.paymentId} AND status = 'authorized'`;
        if (updated.count === 1) {
          out.push(
            event(Topics.orderEvents, Events.PaymentRefunded, e.payload.orderId, {
              ...base,
              paymentId: p.paymentId,
              amountCents: p.amountCents,
              reason: p.reason,
            }),
          );
        }
      }
      return out;
    },
  };
}
