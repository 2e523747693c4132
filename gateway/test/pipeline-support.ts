/**
 * Fixtures for the pipeline view's suites: orders placed through the API, then moved along the pipeline
 * the way the workers would (no workers run here): a stage's processed-event record with the outputs it
 * emitted (as workers/src/runtime/write.ts writes it), and the projector's status change with its history
 * row, dated as far back as the case needs.
 */
import { randomUUID } from 'node:crypto';
import { type ConsumerGroup, type EventPayloads, type EventType, Topics } from '@orders/contracts';
import { samplePayloads } from '@orders/contracts/testing/samples';
import type { Logger, Sql } from '@orders/platform';
import type { Gateway } from './support';

export const MINUTE = 60_000;

/** A recorded output as the runtime stores it (workers/src/runtime/stage.ts EventOutput). */
export interface RecordedOutput {
  kind: 'event';
  topic: string;
  type: EventType;
  key: string;
  payload: EventPayloads[EventType];
}

export interface Placed {
  id: string;
  userId: string;
  placedId: string;
  placed: EventPayloads['order.placed'];
}

export function pipelineFixtures(gw: Gateway) {
  /** A new order through POST /api/v1/orders (two mugs and a card unless `body` says otherwise); its order.placed as the outbox holds it. */
  async function place(customer: { accessToken: string; userId: string }, body?: Record<string, unknown>): Promise<Placed> {
    const r = await gw.call('POST', '/api/v1/orders', {
      token: customer.accessToken,
      body: body ?? { items: [{ sku: 'MUG-BLUE', quantity: 2 }], paymentMethodToken: 'pm_tok_visa_4242' },
    });
    if (r.status !== 201) throw new Error(`order not placed: ${r.status} ${JSON.stringify(r.json)}`);
    const id = String(r.json.id);
    const [row] = await gw.sql<{ event_id: string; payload: EventPayloads['order.placed'] }[]>`
      SELECT event_id, payload FROM outbox WHERE aggregate_id = ${id} AND event_type = 'order.placed'`;
    if (!row) throw new Error('no order.placed in the outbox');
    return { id, userId: customer.userId, placedId: row.event_id, placed: row.payload };
  }

  /**
   * The customer changes the pending order (PATCH, one mug or `quantity`, If-Match "1"); the id of the
   * order.updated event the change wrote to the outbox.
   */
  async function change(customer: { accessToken: string }, order: { id: string }, quantity = 1): Promise<string> {
    const r = await gw.call('PATCH', `/api/v1/orders/${order.id}`, {
      token: customer.accessToken,
      headers: { 'if-match': '"1"' },
      body: { items: [{ sku: 'MUG-BLUE', quantity }] },
    });
    if (r.status !== 200) throw new Error(`order not changed: ${r.status} ${JSON.stringify(r.json)}`);
    const [row] = await gw.sql<{ event_id: string }[]>`
      SELECT event_id FROM outbox WHERE aggregate_id = ${order.id} AND event_type = 'order.updated'`;
    if (!row) throw new Error('no order.updated in the outbox');
    return row.event_id;
  }

  /** An event a stage emits for the order, with a fresh id. */
  function output<K extends EventType>(
    type: K,
    order: { id: string; userId: string },
    extra: Partial<EventPayloads[K]> = {},
  ): RecordedOutput {
    const payload = { ...samplePayloads[type], eventId: randomUUID(), orderId: order.id, userId: order.userId, ...extra };
    return { kind: 'event', topic: Topics.orderEvents, type, key: order.id, payload: payload as EventPayloads[EventType] };
  }

  /** What a stage records for an input it processed. */
  async function record(group: ConsumerGroup, inputId: string, inputType: string, outputs: RecordedOutput[], processedAt?: Date) {
    await gw.sql`
      INSERT INTO processed_events (consumer_group, event_id, event_type, outputs, processed_at)
      VALUES (${group}, ${inputId}, ${inputType}, ${gw.sql.json(outputs as never)}, ${processedAt ?? new Date()})`;
  }

  /** What the projector does for a status change: the order's row and a history row, `ageMs` ago. */
  async function move(orderId: string, to: string, opts: { ageMs: number; eventId?: string | null }) {
    const [o] = await gw.sql<{ from: string; version: number; at: Date }[]>`
      WITH old AS (SELECT status FROM orders WHERE id = ${orderId})
      UPDATE orders SET status = ${to}, version = version + 1, updated_at = now() - ${opts.ageMs} * interval '1 millisecond'
      WHERE id = ${orderId}
      RETURNING (SELECT status FROM old) AS from, version, updated_at AS at`;
    if (!o) throw new Error(`no order ${orderId}`);
    await gw.sql`
      INSERT INTO order_status_history (order_id, from_status, to_status, version, event_id, occurred_at)
      VALUES (${orderId}, ${o.from}, ${to}, ${o.version}, ${opts.eventId ?? null}, ${o.at})`;
    return o.at;
  }

  /** Sets how long ago the order entered its status (no history change). */
  async function age(orderId: string, ageMs: number) {
    await gw.sql`UPDATE orders SET updated_at = now() - ${ageMs} * interval '1 millisecond' WHERE id = ${orderId}`;
  }

  return { place, change, output, record, move, age };
}

/**
 * `sql`, and every transaction begun from it, with the statements whose text matches `match` run through
 * `around` (given the statement to run): to make one kind of statement fail, or to commit something
 * between two reads.
 */
export function hooked(sql: Sql, match: RegExp, around: (run: () => Promise<unknown>) => Promise<unknown>): Sql {
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      apply(fn, self, args: unknown[]) {
        const strings = args[0];
        const text = Array.isArray(strings) && 'raw' in strings ? strings.join('$') : '';
        const run = () => Reflect.apply(fn as (...a: unknown[]) => Promise<unknown>, self, args);
        return match.test(text) ? around(run) : run();
      },
      get(t, key) {
        const value: unknown = Reflect.get(t, key);
        if (typeof value !== 'function') return value;
        if (key !== 'begin') return value.bind(t);
        return (...args: unknown[]) => {
          const body = args.pop() as (tx: object) => unknown;
          return value.call(t, ...args, (tx: object) => body(wrap(tx)));
        };
      },
    });
  return wrap(sql);
}

/** A logger that keeps what is logged at error and warn level. */
export function capturingLogger() {
  const logged: { level: 'error' | 'warn'; args: unknown[] }[] = [];
  const logger = {
    error: (...args: unknown[]) => logged.push({ level: 'error', args }),
    warn: (...args: unknown[]) => logged.push({ level: 'warn', args }),
    info: () => {},
    debug: () => {},
  } as unknown as Logger;
  return { logger, logged };
}
