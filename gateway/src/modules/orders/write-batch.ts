/**
 * The one statement that writes a batch of new orders (`writer.ts` decides what goes into a batch).
 * Per-request semantics survive the batching:
 * - Idempotency: each key takes a transaction-scoped advisory lock (a second request with the same key
 *   while the first is in flight answers 409) and its record is inserted in the same statement as the
 *   order (a key whose record already exists replays it).
 * - An order never commits without its outbox event: the statement checks the counts and fails whole.
 */
import { createHash } from 'node:crypto';
import type { Sql } from '@orders/platform';
import type { OutboxEntry } from '../../outbox/write';
import type { OrderView } from './model';

export interface IdempotencyRecord {
  key: string;
  requestHash: Buffer;
  expiresAt: Date;
}

export interface OrderDraft {
  order: {
    id: string;
    user_id: string;
    status: 'pending';
    currency: string;
    total_cents: number;
    payment_method_token: string | null;
    version: number;
    revision: number;
    created_at: Date;
    updated_at: Date;
  };
  items: { order_id: string; line_no: number; sku: string; quantity: number; unit_price_cents: number }[];
  outbox: OutboxEntry;
  view: OrderView;
  idempotency: IdempotencyRecord | null;
}

export type WriteResult = { kind: 'written' } | { kind: 'in_flight' } | { kind: 'key_exists' };

/** The advisory-lock key of an idempotency key: 64 bits of SHA-256 over (user, key). */
export function lockKey(userId: string, key: string): string {
  return createHash('sha256').update(userId).update('\0').update(key).digest().readBigInt64BE(0).toString();
}

/**
 * A batch of drafts written by one statement, its own transaction (autocommit: one round trip, one
 * commit). Its parts, in order:
 * - each idempotency key takes `pg_try_advisory_xact_lock` (held until the statement commits): a key
 *   whose first request is still being written elsewhere is `in_flight`;
 * - the keys' records are inserted; one that already exists (`ON CONFLICT DO NOTHING` returns nothing)
 *   is `key_exists`, and its order is not written;
 * - every other order goes in with its lines, its first history entry and its outbox event; the history
 *   entry names that event (order.placed), like every later entry names the event that caused it, so
 *   the operator view can rebuild and re-drive it (modules/pipeline/recorded.ts).
 * The whole batch is one JSON parameter: constant SQL text (one prepared statement whatever the batch
 * size), and PostgreSQL's C JSON parser instead of per-value parameter encoding in JavaScript. Foreign
 * keys are checked at the end of the statement, when the orders of the batch exist. The results line up
 * with the drafts.
 */
export async function writeBatch(sql: Sql, drafts: OrderDraft[]): Promise<WriteResult[]> {
  const results: (WriteResult | undefined)[] = drafts.map(() => undefined);
  // A key twice in one batch: the later request waits for nothing, it is simply in flight.
  const seen = new Set<string>();
  const keys: Record<string, unknown>[] = [];
  const writing: OrderDraft[] = [];
  for (const [n, d] of drafts.entries()) {
    const idem = d.idempotency;
    if (idem) {
      const id = `${d.order.user_id}\0${idem.key}`;
      if (seen.has(id)) {
        results[n] = { kind: 'in_flight' };
        continue;
      }
      seen.add(id);
      keys.push({
        n,
        user_id: d.order.user_id,
        key: idem.key,
        lock: lockKey(d.order.user_id, idem.key),
        request_hash: idem.requestHash.toString('hex'),
        response_body: d.view,
        resource_id: d.order.id,
        created_at: d.order.created_at,
        expires_at: idem.expiresAt,
      });
    }
    writing.push(d);
  }
  const batch = {
    keys,
    orders: writing.map((d) => d.order),
    items: writing.flatMap((d) => d.items),
    outbox: writing.map((d) => d.outbox),
  };
  // postgres.js serialises the parameter as jsonb itself (a pre-stringified value would arrive as one
  // JSON string and insert nothing); the row counts below guard against any such silent no-op.
  const [row] = await sql<{ orders: number; outbox: number; keys: { n: number; locked: boolean; won: boolean }[] }[]>`
    WITH batch AS (SELECT ${sql.json(batch as never)}::jsonb AS b),
    k AS (
      SELECT x.*, pg_try_advisory_xact_lock(x.lock) AS locked
      FROM jsonb_to_recordset((SELECT b->'keys' FROM batch))
        AS x(n int, user_id uuid, key text, lock bigint, request_hash text, response_body jsonb, resource_id uuid,
             created_at timestamptz, expires_at timestamptz)
      ORDER BY x.n
    ),
    idem AS (
      INSERT INTO idempotency_keys (user_id, key, request_hash, response_status, response_body, resource_id, created_at, expires_at)
      SELECT user_id, key, decode(request_hash, 'hex'), 201, response_body, resource_id, created_at, expires_at FROM k WHERE locked
      ON CONFLICT DO NOTHING
      RETURNING resource_id
    ),
    skipped AS (SELECT resource_id FROM k WHERE resource_id NOT IN (SELECT resource_id FROM idem)),
    o AS (
      INSERT INTO orders (id, user_id, status, currency, total_cents, payment_method_token, version, revision, created_at, updated_at)
      SELECT id, user_id, status, currency, total_cents, payment_method_token, version, revision, created_at, updated_at
      FROM jsonb_populate_recordset(NULL::orders, (SELECT b->'orders' FROM batch))
      WHERE id NOT IN (SELECT resource_id FROM skipped)
      RETURNING id, created_at
    ),
    i AS (
      INSERT INTO order_items (order_id, line_no, sku, quantity, unit_price_cents)
      SELECT order_id, line_no, sku, quantity, unit_price_cents
      FROM jsonb_populate_recordset(NULL::order_items, (SELECT b->'items' FROM batch))
      WHERE order_id IN (SELECT id FROM o)
    ),
    ev AS (
      SELECT * FROM jsonb_to_recordset((SELECT b->'outbox' FROM batch))
        AS x(event_id uuid, event_type text, aggregate_id uuid, payload jsonb, headers jsonb)
    ),
    h AS (
      INSERT INTO order_status_history (order_id, from_status, to_status, version, event_id, occurred_at)
      SELECT o.id, NULL, 'pending', 1, ev.event_id, o.created_at
      FROM o LEFT JOIN ev ON ev.aggregate_id = o.id AND ev.event_type = 'order.placed'
    ),
    ob AS (
      INSERT INTO outbox (event_id, event_type, aggregate_id, payload, headers)
      SELECT event_id, event_type, aggregate_id, payload, headers FROM ev
      WHERE aggregate_id IN (SELECT id FROM o)
      RETURNING 1
    )
    SELECT (SELECT count(*)::int FROM o) AS orders, (SELECT count(*)::int FROM ob) AS outbox,
           -- An order without its event must never commit: a mismatch fails the statement, which undoes
           -- all of it (the cast of the message raises only when the counts differ).
           (CASE WHEN (SELECT count(*) FROM o) <> (SELECT count(*) FROM ob)
                 THEN 'batch wrote ' || (SELECT count(*) FROM o) || ' orders and ' || (SELECT count(*) FROM ob) || ' outbox rows'
            END)::int AS mismatch,
           COALESCE((SELECT json_agg(json_build_object('n', n, 'locked', locked, 'won', resource_id IN (SELECT resource_id FROM idem)))
                     FROM k), '[]'::json) AS keys`;
  if (!row) throw new Error('the order batch statement returned no row');
  for (const k of row.keys) results[k.n] = !k.locked ? { kind: 'in_flight' } : k.won ? undefined : { kind: 'key_exists' };
  const written = results.filter((r) => r === undefined).length;
  if (row.orders !== written || row.outbox !== written)
    throw new Error(`batch wrote ${row.orders} orders and ${row.outbox} outbox rows for ${written} orders`);
  return results.map((r) => r ?? { kind: 'written' });
}
