/**
 * payment: `order.validated` → `payment.authorized` | `payment.failed`; compensations refund an
 * authorized payment on `order.cancelled` and `stock.unavailable`, and on its own `payment.authorized`
 * when the order was cancelled while the charge was under way.
 *
 * Calls to the provider happen in `prepare` (outside transactions), up to `concurrency` at once, each
 * with an idempotency key derived from the order (a charge) or the payment (a refund): a crash before the
 * commit repeats the call and gets the same answer, never a second charge. Set-based, a batch at a time:
 * `prepare` reads the batch's orders and payments in two statements, and `handleBatch` records every
 * charge in one INSERT and every refund in one UPDATE.
 */
import { ConsumerGroups, type DecodedEvent, Events, Topics } from '@orders/contracts';
import type { Sql } from '@orders/platform';
import { type BatchStage, event, type Output, type Prepared } from '../../runtime/stage';
import { CompensationReasons, type PaymentFailureReason, PaymentFailureReasons } from '../reasons';
import type { PaymentProvider } from './provider';

type Plan =
  | { kind: 'skip'; reason: string }
  | { kind: 'charged'; chargeId: string; amountCents: number; currency: string }
  | { kind: 'declined'; code: PaymentFailureReason; reason: string }
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

export function paymentStage({ sql, provider, concurrency }: { sql: Sql; provider: PaymentProvider; concurrency: number }): BatchStage {
  const refundReason: Partial<Record<string, string>> = {
    [Events.OrderCancelled]: CompensationReasons.orderCancelled,
    [Events.StockUnavailable]: CompensationReasons.outOfStock,
    [Events.PaymentAuthorized]: CompensationReasons.cancelledDuringCharge,
  };

  /** The batch's orders and payments as they are before any of its effects, by order id. */
  async function snapshot(orderIds: string[]) {
    const orders = new Map(
      (
        await sql<(OrderRow & { id: string })[]>`
          SELECT id, status, total_cents, currency, payment_method_token, revision FROM orders WHERE id IN ${sql(orderIds)}`
      ).map((r) => [r.id, r]),
    );
    const payments = new Map(
      (
        await sql<(PaymentRow & { order_id: string })[]>`
          SELECT id, order_id, provider_charge, amount_cents, status FROM payments WHERE order_id IN ${sql(orderIds)}`
      ).map((r) => [r.order_id, r]),
    );
    return { orders, payments };
  }

  async function plan(e: DecodedEvent, order: OrderRow | undefined, payment: PaymentRow | undefined): Promise<Plan> {
    const { orderId } = e.payload;
    if (e.type === Events.OrderValidated) {
      if (!order) return { kind: 'skip', reason: 'order not found' };
      if (order.status === 'cancelled') return { kind: 'skip', reason: 'order cancelled before the charge' };
      if (payment) return { kind: 'skip', reason: 'already charged' };
      if (!order.payment_method_token)
        return { kind: 'declined', code: PaymentFailureReasons.noPaymentMethod, reason: 'the order has no payment method' };
      const result = await provider.charge(`charge:${orderId}:${order.revision}`, {
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
    if (e.type === Events.PaymentAuthorized && order?.status !== 'cancelled') return { kind: 'skip', reason: 'order still live' };
    if (!payment || payment.status !== 'authorized') return { kind: 'skip', reason: 'nothing to refund' };
    const refundId = await provider.refund(`refund:${payment.id}`, {
      chargeId: payment.provider_charge,
      amountCents: payment.amount_cents,
    });
    return {
      kind: 'refunded',
      paymentId: payment.id,
      refundId,
      amountCents: payment.amount_cents,
      reason: refundReason[e.type] ?? CompensationReasons.other,
    };
  }

  return {
    name: 'payment',
    group: ConsumerGroups.payment,
    topics: [Topics.orderEvents],
    handles: [Events.OrderValidated, Events.OrderCancelled, Events.StockUnavailable, Events.PaymentAuthorized],
    async prepare(events) {
      const { orders, payments } = await snapshot([...new Set(events.map((e) => e.payload.orderId))]);
      // One charge per order per batch: a second verdict on the same order (a changed order judged
      // again) finds the first one's charge when it comes round again, not a concurrent call.
      const charging = new Set<string>();
      return bounded(events, concurrency, async (e): Promise<Prepared> => {
        const { orderId } = e.payload;
        if (e.type === Events.OrderValidated) {
          if (charging.has(orderId)) return { ok: true, value: { kind: 'skip', reason: 'charged by an earlier event of the batch' } };
          charging.add(orderId);
        }
        try {
          return { ok: true, value: await plan(e, orders.get(orderId), payments.get(orderId)) };
        } catch (error) {
          return { ok: false, error };
        }
      });
    },
    async handleBatch(events, { tx, newId }, prepared) {
      const plans = events.map((e, n) => ({ e, p: prepared[n] as Plan, id: newId() }));
      const charges = plans.filter((x) => x.p.kind === 'charged');
      const refunds = plans.filter((x) => x.p.kind === 'refunded');
      // Another delivery of an event may have recorded the same charge first: then it also emitted.
      const charged = new Set<string>();
      if (charges.length > 0) {
        const rows = charges.map(({ e, p, id }) => {
          const c = p as Extract<Plan, { kind: 'charged' }>;
          return { id, order_id: e.payload.orderId, provider_charge: c.chargeId, amount_cents: c.amountCents, currency: c.currency };
        });
        const inserted = await tx<{ id: string }[]>`
          INSERT INTO payments (id, order_id, provider_charge, amount_cents, currency, status)
          SELECT r.id, r.order_id, r.provider_charge, r.amount_cents, r.currency, 'authorized'
          FROM jsonb_to_recordset(${tx.json(rows as never)}::jsonb)
            AS r(id uuid, order_id uuid, provider_charge text, amount_cents bigint, currency text)
          ON CONFLICT DO NOTHING
          RETURNING id`;
        for (const r of inserted) charged.add(r.id);
      }
      // A payment refunded by two events of the batch (a cancellation and a shortage) is recorded and
      // announced once, by the first of them in partition order, with that event's reason.
      const refunded = new Set<string>();
      const firstRefunds = new Map<string, { id: string; refund: string; reason: string }>();
      for (const { p } of refunds) {
        const r = p as Extract<Plan, { kind: 'refunded' }>;
        if (!firstRefunds.has(r.paymentId)) firstRefunds.set(r.paymentId, { id: r.paymentId, refund: r.refundId, reason: r.reason });
      }
      if (firstRefunds.size > 0) {
        const updated = await tx<{ id: string }[]>`
          UPDATE payments p SET status = 'refunded', provider_refund = r.refund, refund_reason = r.reason, refunded_at = now()
          FROM jsonb_to_recordset(${tx.json([...firstRefunds.values()] as never)}::jsonb) AS r(id uuid, refund text, reason text)
          WHERE p.id = r.id AND p.status = 'authorized'
          RETURNING p.id`;
        for (const r of updated) refunded.add(r.id);
      }
      return plans.map(({ e, p, id }): Output[] => {
        const base = { eventId: newId(), occurredAt: Date.now(), orderId: e.payload.orderId, userId: e.payload.userId };
        if (p.kind === 'charged' && charged.has(id))
          return [
            event(Topics.orderEvents, Events.PaymentAuthorized, e.payload.orderId, {
              ...base,
              paymentId: id,
              amountCents: p.amountCents,
              currency: p.currency,
            }),
          ];
        if (p.kind === 'declined')
          return [event(Topics.orderEvents, Events.PaymentFailed, e.payload.orderId, { ...base, code: p.code, reason: p.reason })];
        if (p.kind === 'refunded' && refunded.delete(p.paymentId))
          return [
            event(Topics.orderEvents, Events.PaymentRefunded, e.payload.orderId, {
              ...base,
              paymentId: p.paymentId,
              amountCents: p.amountCents,
              reason: p.reason,
            }),
          ];
        return [];
      });
    },
  };
}
