/**
 * Group commit for new orders. Requests hand over a fully prepared order (ids, prices, event, answer
 * all computed up front: `draft.ts`); the writer puts whatever is waiting into one statement
 * (`write-batch.ts`), which is its own transaction (one round trip and one fsync for many orders), and
 * runs a bounded number of them at once. Under light load a request gets a transaction of its own
 * right away: nothing waits for a timer.
 *
 * Error isolation: if a batch fails, each order is retried in a transaction of its own, so one bad
 * order fails alone. Ids are fixed before the first attempt, so a retry after an ambiguous commit can
 * never create a second copy: it finds the first one.
 */
import { PgErrorCodes, pgErrorCode, type Sql } from '@orders/platform';
import { type OrderDraft, type WriteResult, writeBatch } from './write-batch';

interface Job {
  draft: OrderDraft;
  resolve(r: WriteResult): void;
  reject(err: unknown): void;
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
