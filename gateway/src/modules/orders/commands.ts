/**
 * Changing orders: placing one (group-committed by the writer, with `Idempotency-Key` semantics),
 * changing a pending one, cancelling one before it ships. Every write puts the change, its history and
 * its outbox event in one transaction: an acknowledged change always has its event, a failed one leaves
 * nothing behind. Customers only ever reach their own orders (another customer's answers 404).
 */
import { CANCELLABLE_STATUSES, Events, type OrderCancelled, type OrderUpdated } from '@orders/contracts';
import { PgErrorCodes, type Principal, pgErrorCode, type Sql } from '@orders/platform';
import { recordAdminAction } from '../../audit';
import { newId } from '../../ids';
import { insertOutbox } from '../../outbox/write';
import type { ProductsService } from '../products/service';
import type { OrderCache } from './cache';
import { newOrderDraft } from './draft';
import { notCancellable, notChangeable, orderNotFound, ordersBusy, unknownUser, versionMismatch } from './errors';
import { findReplay, keyInFlight, keyMismatch, requestHash } from './idempotency';
import type { CreateOrderBody, OrderView, UpdateOrderBody } from './model';
import { type Priced, priceLines } from './pricing';
import { ORDER_SELECT, type OrderRow, ownerFilter, toView } from './rows';
import { type OrderWriter, WriterBusy } from './writer';

export interface OutboxSignal {
  /** Tells the publisher that new rows were committed. */
  wake(): void;
}

export interface CreateResult {
  status: number;
  order: OrderView;
  replayed: boolean;
}

export class OrderCommands {
  constructor(
    private readonly sql: Sql,
    private readonly products: ProductsService,
    private readonly writer: OrderWriter,
    private readonly outbox: OutboxSignal,
    private readonly idempotencyTtlSeconds: number,
    private readonly cache: OrderCache,
    /** Tells other instances an order changed (best effort; their TTL bounds staleness without it). */
    private readonly announce: (id: string, version: number) => void = () => {},
  ) {}

  async create(principal: Principal, body: CreateOrderBody, idempotencyKey?: string, trace?: string): Promise<CreateResult> {
    const hash = idempotencyKey ? requestHash(body) : null;
    // A new key is the common case: the writer finds out in the same statement that writes the order
    // whether the key was used before (`key_exists`), so no lookup runs ahead of it. Only when the order
    // cannot be priced (a product withdrawn since the first request, say) is the stored answer looked up
    // first: a replay answers as the first request did, whatever the catalogue says now.
    let priced: Priced;
    try {
      priced = await priceLines(this.products, body.items);
    } catch (err) {
      const replay = idempotencyKey && hash ? await findReplay(this.sql, principal.userId, idempotencyKey, hash) : undefined;
      if (replay) return { status: replay.status, order: replay.body, replayed: true };
      throw err;
    }
    const now = new Date();
    const draft = newOrderDraft({
      principal,
      body,
      priced,
      idempotency:
        idempotencyKey && hash
          ? { key: idempotencyKey, requestHash: hash, expiresAt: new Date(now.getTime() + this.idempotencyTtlSeconds * 1000) }
          : null,
      trace,
      now,
    });
    const { view } = draft;
    for (let attempt = 0; ; attempt++) {
      let result: Awaited<ReturnType<OrderWriter['write']>>;
      try {
        result = await this.writer.write(draft);
      } catch (err) {
        if (err instanceof WriterBusy) {
          throw ordersBusy();
        }
        const constraint = (err as { constraint_name?: string }).constraint_name;
        if (
          pgErrorCode(err) === PgErrorCodes.foreignKeyViolation &&
          (constraint === 'orders_user_id_fkey' || constraint === 'idempotency_keys_user_id_fkey')
        ) {
          throw unknownUser();
        }
        throw err;
      }
      if (result.kind === 'written') {
        this.outbox.wake();
        this.cache.set(view);
        return { status: 201, order: view, replayed: false };
      }
      if (result.kind === 'in_flight') throw keyInFlight();
      // key_exists: a request with this key committed meanwhile; answer as it did.
      const replay = await findReplay(this.sql, principal.userId, idempotencyKey ?? '', hash ?? Buffer.alloc(0));
      if (replay) return { status: replay.status, order: replay.body, replayed: true };
      if (attempt > 0) throw keyMismatch();
      // The record that blocked us has expired but was not cleaned up yet: remove it and write again.
      await this
        .sql`DELETE FROM idempotency_keys WHERE user_id = ${principal.userId} AND key = ${idempotencyKey ?? ''} AND expires_at <= now()`;
    }
  }

  /**
   * After a committed change: its event goes out, this instance serves the new view, the others drop
   * theirs.
   */
  private committed(view: OrderView): void {
    this.outbox.wake();
    this.cache.invalidate(view.id, view.version);
    this.cache.set(view);
    this.announce(view.id, view.version);
  }

  /**
   * Locks the order for a change, checking ownership and (when given) the version the caller read.
   * FOR UPDATE, the one lock mode that waits for fulfillment's FOR KEY SHARE: a cancellation and a
   * shipment of the same order never both go through (workers/src/stages/fulfillment).
   */
  private async lockForChange(tx: Sql, principal: Principal, id: string, ifMatch: number | undefined): Promise<OrderRow> {
    const [row] = await tx<OrderRow[]>`
      ${tx.unsafe(ORDER_SELECT)} WHERE o.id = ${id} ${ownerFilter(tx, principal)}
      FOR UPDATE OF o`;
    if (!row) throw orderNotFound(id);
    if (ifMatch !== undefined && ifMatch !== row.version) throw versionMismatch(row.version, ifMatch);
    return row;
  }

  /** Changes lines or payment method while the order is still pending; needs the version (If-Match). */
  async update(principal: Principal, id: string, ifMatch: number, body: UpdateOrderBody, trace?: string): Promise<OrderView> {
    const priced = body.items ? await priceLines(this.products, body.items) : undefined;
    const view = await this.sql.begin(async (tx) => {
      const row = await this.lockForChange(tx as unknown as Sql, principal, id, ifMatch);
      if (row.status !== 'pending') throw notChangeable(row.status);
      const now = new Date();
      const lines = priced?.lines ?? row.items.map((l, i) => ({ ...l, line_no: i + 1 }));
      const currency = priced?.currency ?? row.currency;
      const total = priced?.total ?? row.total_cents;
      const [tokenRow] = await tx<{ payment_method_token: string | null }[]>`
        UPDATE orders SET
          currency = ${currency}, total_cents = ${total},
          payment_method_token = COALESCE(${body.paymentMethodToken ?? null}, payment_method_token),
          version = version + 1, revision = revision + 1, updated_at = ${now}
        WHERE id = ${id}
        RETURNING payment_method_token`;
      if (priced) {
        await tx`DELETE FROM order_items WHERE order_id = ${id}`;
        await tx`INSERT INTO order_items ${tx(lines.map((l) => ({ ...l, order_id: id })))}`;
      }
      const event: OrderUpdated = {
        eventId: newId(),
        occurredAt: now.getTime(),
        orderId: id,
        userId: row.user_id,
        revision: row.revision + 1,
        currency,
        totalCents: total,
        items: lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPriceCents: l.unit_price_cents })),
        paymentMethodToken: tokenRow?.payment_method_token ?? null,
      };
      await insertOutbox(tx as unknown as Sql, { type: Events.OrderUpdated, event, aggregateId: id, trace });
      return toView({
        ...row,
        currency,
        total_cents: total,
        version: row.version + 1,
        revision: row.revision + 1,
        updated_at: now,
        items: lines,
      });
    });
    this.committed(view);
    return view;
  }

  /**
   * Cancels an order that has not shipped. Applied here, synchronously, so the caller knows at once;
   * the `order.cancelled` event makes the stages compensate (release stock, refund) and the projector
   * announce the change to the browsers.
   */
  async cancel(
    principal: Principal,
    id: string,
    ifMatch: number | undefined,
    reason: string | undefined,
    trace?: string,
  ): Promise<OrderView> {
    const view = await this.sql.begin(async (tx) => {
      const row = await this.lockForChange(tx as unknown as Sql, principal, id, ifMatch);
      // Fulfillment creates the shipment under a lock this one waits for: once it exists the order has
      // shipped, even if the projector has not applied `shipped` to the status yet.
      const [shipment] = await tx`SELECT 1 FROM shipments WHERE order_id = ${id}`;
      if (shipment) row.status = 'shipped';
      if (!CANCELLABLE_STATUSES.includes(row.status)) throw notCancellable(row.status);
      const now = new Date();
      const byAdmin = principal.role === 'admin' && principal.userId !== row.user_id;
      const why = reason ?? (byAdmin ? 'cancelled by an administrator' : 'cancelled by the customer');
      const event: OrderCancelled = {
        eventId: newId(),
        occurredAt: now.getTime(),
        orderId: id,
        userId: row.user_id,
        reason: why,
        cancelledBy: principal.userId,
        previousStatus: row.status,
      };
      await tx`
        UPDATE orders SET status = 'cancelled', status_reason = ${why}, version = version + 1, updated_at = ${now} WHERE id = ${id}`;
      if (byAdmin)
        await recordAdminAction(tx as unknown as Sql, principal.userId, 'order.cancelled', id, { reason: why, previousStatus: row.status });
      await tx`
        INSERT INTO order_status_history (order_id, from_status, to_status, reason, version, event_id, occurred_at)
        VALUES (${id}, ${row.status}, 'cancelled', ${why}, ${row.version + 1}, ${event.eventId}, ${now})`;
      await insertOutbox(tx as unknown as Sql, { type: Events.OrderCancelled, event, aggregateId: id, trace });
      return toView({ ...row, status: 'cancelled', status_reason: why, version: row.version + 1, updated_at: now });
    });
    this.committed(view);
    return view;
  }
}
