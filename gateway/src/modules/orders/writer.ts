/**
 * Group commit for new orders. Requests hand over a fully prepared order (ids, prices, event, answer
 * all computed up front); the writer puts whatever is waiting into one transaction (one fsync for many
 * orders) with a few multi-row statements, and runs a bounded number of such transactions at once.
 * Under light load a request gets a transaction of its own right away: nothing waits for a timer.
 *
 * Per-request semantics survive the batching:
 * - Idempotency: each key takes a transaction-scoped advisory lock (a second request with the same key
 *   while the first is in flight answers 409) and its record is inserted in the same transaction as the
 *   order (a key whose record already exists replays it).
 * - Error isolation: if a batch fails, each order is retried in a transaction of its own, so one bad
 *   order fails alone. Ids are fixed before the first attempt, so a retry after an ambiguous commit
 *   can never create a second copy: it finds the first one.
 */
import { createHash } from 'node:crypto';
import { PgErrorCodes, pgErrorCode, type Sql, type TransactionSql } from '@orders/platform';
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

export class OrderWriter {
  private readonly queue: Job[] = [];
  private inFlight = 0;
  readonly stats: WriterStats = { batches: 0, orders: 0 };

  constructor(
    private readonly sql: Sql,
    private readonly opts: { maxBatch: number; concurrency: number; onBatch?: (size: number) => void },
  ) {}

  write(draft: OrderDraft): Promise<WriteResult> {
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
      const results = await this.sql.begin((tx) =>
        writeBatch(
          tx,
          batch.map((j) => j.draft),
        ),
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
      const [result] = await this.sql.begin((tx) => writeBatch(tx, [job.draft]));
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

/** One transaction's work for a batch of drafts; the results line up with the drafts. */
async function writeBatch(tx: TransactionSql<Record<string, never>>, drafts: OrderDraft[]): Promise<WriteResult[]> {
  const results: (WriteResult | undefined)[] = drafts.map(() => undefined);
  const keyed = drafts.map((d, i) => ({ d, i })).filter((x) => x.d.idempotency !== null);
  if (keyed.length > 0) {
    // A key twice in one batch: the later request waits for nothing, it is simply in flight.
    const seen = new Set<string>();
    const candidates: { d: OrderDraft; i: number; lock: string }[] = [];
    for (const { d, i } of keyed) {
      const id = `${d.order.user_id}\0${d.idempotency?.key}`;
      if (seen.has(id)) results[i] = { kind: 'in_flight' };
      else {
        seen.add(id);
        candidates.push({ d, i, lock: lockKey(d.order.user_id, d.idempotency?.key ?? '') });
      }
    }
    const locks = await tx<{ ok: boolean }[]>`
      SELECT pg_try_advisory_xact_lock(k) AS ok FROM unnest(${candidates.map((c) => c.lock)}::bigint[]) WITH ORDINALITY AS t(k, n) ORDER BY n`;
    const locked = candidates.filter((c, n) => {
      if (locks[n]?.ok) return true;
      results[c.i] = { kind: 'in_flight' };
      return false;
    });
    if (locked.length > 0) {
      const inserted = await tx<{ key: string; user_id: string }[]>`
        INSERT INTO idempotency_keys ${tx(
          locked.map(({ d }) => ({
            user_id: d.order.user_id,
            key: d.idempotency?.key,
            request_hash: d.idempotency?.requestHash,
            response_status: 201,
            response_body: d.view as never,
            resource_id: d.order.id,
            created_at: d.order.created_at,
            expires_at: d.idempotency?.expiresAt,
          })),
        )}
        ON CONFLICT DO NOTHING
        RETURNING key, user_id`;
      const won = new Set(inserted.map((r) => `${r.user_id}\0${r.key}`));
      for (const c of locked) if (!won.has(`${c.d.order.user_id}\0${c.d.idempotency?.key}`)) results[c.i] = { kind: 'key_exists' };
    }
  }
  const writing = drafts.filter((_, i) => results[i] === undefined);
  if (writing.length > 0) {
    // The whole batch in one statement with one JSON parameter: constant SQL text (one prepared
    // statement whatever the batch size), one round trip, and PostgreSQL's C JSON parser instead of
    // per-value parameter encoding in JavaScript. Foreign keys are checked at the end of the statement,
    // when the orders of the batch exist.
    const batch = {
      orders: writing.map((d) => d.order),
      items: writing.flatMap((d) => d.items),
      outbox: writing.map((d) => d.outbox),
    };
    // postgres.js serialises the parameter as jsonb itself (a pre-stringified value would arrive as one
    // JSON string and insert nothing); the row count below guards against any such silent no-op.
    const written = await tx`
      WITH batch AS (SELECT ${tx.json(batch as never)}::jsonb AS b),
      o AS (
        INSERT INTO orders (id, user_id, status, currency, total_cents, payment_method_token, version, revision, created_at, updated_at)
        SELECT id, user_id, status, currency, total_cents, payment_method_token, version, revision, created_at, updated_at
        FROM jsonb_populate_recordset(NULL::orders, (SELECT b->'orders' FROM batch))
        RETURNING id, created_at
      ),
      i AS (
        INSERT INTO order_items (order_id, line_no, sku, quantity, unit_price_cents)
        SELECT order_id, line_no, sku, quantity, unit_price_cents
        FROM jsonb_populate_recordset(NULL::order_items, (SELECT b->'items' FROM batch))
      ),
      h AS (
        INSERT INTO order_status_history (order_id, from_status, to_status, version, occurred_at)
        SELECT id, NULL, 'pending', 1, created_at FROM o
      )
      INSERT INTO outbox (event_id, event_type, aggregate_id, payload, headers)
      SELECT event_id, event_type, aggregate_id, payload, headers
      FROM jsonb_to_recordset((SELECT b->'outbox' FROM batch))
        AS x(event_id uuid, event_type text, aggregate_id uuid, payload jsonb, headers jsonb)
      RETURNING 1`;
    if (written.count !== writing.length) throw new Error(`batch wrote ${written.count} outbox rows for ${writing.length} orders`);
  }
  return results.map((r) => r ?? { kind: 'written' });
}
