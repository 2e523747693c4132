/**
 * Group commit for new orders. Requests hand over a fully prepared order (ids, prices, event, answer
 * all computed up front); the writer puts whatever is waiting into one statement, which is its own
 * transaction (one round trip and one fsync for many orders), and runs a bounded number of them at once.
 * Under light load a request gets a transaction of its own right away: nothing waits for a timer.
 *
 * Per-request semantics survive the batching:
 * - Idempotency: each key takes a transaction-scoped advisory lock (a second request with the same key
 *   while the first is in flight answers 409) and its record is inserted in the same statement as the
 *   order (a key whose record already exists replays it).
 * - Error isolation: if a batch fails, each order is retried in a transaction of its own, so one bad
 *   order fails alone. Ids are fixed before the first attempt, so a retry after an ambiguous commit
 *   can never create a second copy: it finds the first one.
 */
import { createHash } from 'node:crypto';
import { PgErrorCodes, pgErrorCode, type Sql } from '@orders/platform';
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
  outbox: { event_id: string; event_type: string; aggregate_id: string; payload: unknown; headers: Record<string, string> };
  view: OrderView;
  idempotency: IdempotencyRecord | null;
}

export type WriteResult = { kind: 'written' } | { kind: 'in_flight' } | { kind: 'key_exists' };

interface Job {
  draft: OrderDraft;
  resolve(r: WriteResult): void;
  reject(err: unknown): void;
}

/** The advisory-lock key of an idempotency key: 64 bits of SHA-256 over (user, key). */
export function lockKey(userId: string, key: string): string {
  return createHash('sha256').update(userId).update('\0').update(key).digest().readBigInt64BE(0).toString();
}

export interface WriterStats {
  batches: number;
  orders: number;
}

/** The writer's queue is full: PostgreSQL is not keeping up; the order was not written. */
export class WriterBusy extends Error {
  override readonly name = 'WriterBusy';
}

export class OrderWriter {
  private readonly queue: Job[] = [];
  private inFlight = 0;
  readonly stats: WriterStats = { batches: 0, orders: 0 };
  private readonly maxQueued: number;

  constructor(
    private readonly sql: Sql,
    private readonly opts: { maxBatch: number; concurrency: number; maxQueued?: number; onBatch?: (size: number) => void },
  ) {
    // Four full rounds of batches wait at most: beyond that a slow database would only grow the queue
    // (and the memory behind it) while every answer got later; callers are told to come back instead.
    this.maxQueued = opts.maxQueued ?? 4 * opts.maxBatch * opts.concurrency;
  }

  write(draft: OrderDraft): Promise<WriteResult> {
    if (this.queue.length >= this.maxQueued) return Promise.reject(new WriterBusy(`${this.queue.length} orders waiting to be written`));
    return new Promise((resolve, reject) => {
      this.queue.push({ draft, resolve, reject });
      this.kick();
    });
  }

  /** Resolves when nothing is queued or being written (shutdown waits on it). */
  async idle(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight > 0) await Bun.sleep(5);
  }

  private kick(): void {
    while (this.inFlight < this.opts.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.inFlight += 1;
      void this.run(batch).finally(() => {
        this.inFlight -= 1;
        this.kick();
      });
    }
  }

  private async run(batch: Job[]): Promise<void> {
    try {
      const results = await writeBatch(
        this.sql,
        batch.map((j) => j.draft),
      );
      for (const [i, job] of batch.entries()) job.resolve(results[i] as WriteResult);
      this.stats.batches += 1;
      this.stats.orders += batch.length;
      this.opts.onBatch?.(batch.length);
    } catch (err) {
      if (batch.length === 1) {
        (batch[0] as Job).reject(err);
        return;
      }
      // Isolate the culprit: every order of the failed batch gets a transaction of its own.
      await Promise.all(batch.map((job) => this.runAlone(job)));
    }
  }

  private async runAlone(job: Job): Promise<void> {
    try {
      const [result] = await writeBatch(this.sql, [job.draft]);
      job.resolve(result as WriteResult);
    } catch (err) {
      // The batch may have committed after all (the error came with the COMMIT): the fixed ids tell.
      if (pgErrorCode(err) === PgErrorCodes.uniqueViolation && (await this.exists(job.draft))) {
        job.resolve({ kind: 'written' });
        return;
      }
      job.reject(err);
    }
  }

  private async exists(draft: OrderDraft): Promise<boolean> {
    const rows = await this.sql`SELECT 1 FROM orders WHERE id = ${draft.order.id}`;
    return rows.length === 1;
  }
}

/**
 * A batch of drafts written by one statement, its own transaction (autocommit: one round trip, one
 * commit). Its parts, in order:
 * - each idempotency key takes `pg_try_advisory_xact_lock` (held until the statement commits): a key
 *   whose first request is still being written elsewhere is `in_flight`;
 * - the keys' records are inserted; one that already exists (`ON CONFLICT DO NOTHING` returns nothing)
 *   is `key_exists`, and its order is not written;
 * - every other order goes in with its lines, its first history entry and its outbox event.
 * The whole batch is one JSON parameter: constant SQL text (one prepared statement whatever the batch
 * size), and PostgreSQL's C JSON parser instead of per-value parameter encoding in JavaScript. Foreign
 * keys are checked at the end of the statement, when the orders of the batch exist. The results line up
 * with the drafts.
 */
async function writeBatch(sql: Sql, drafts: OrderDraft[]): Promise<WriteResult[]> {
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
    h AS (
      INSERT INTO order_status_history (order_id, from_status, to_status, version, occurred_at)
      SELECT id, NULL, 'pending', 1, created_at FROM o
    ),
    ob AS (
      INSERT INTO outbox (event_id, event_type, aggregate_id, payload, headers)
      SELECT event_id, event_type, aggregate_id, payload, headers
      FROM jsonb_to_recordset((SELECT b->'outbox' FROM batch))
        AS x(event_id uuid, event_type text, aggregate_id uuid, payload jsonb, headers jsonb)
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
