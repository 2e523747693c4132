/**
 * Reads of single orders, coalesced: the ids asked for in one turn of the event loop are read by one
 * query (`WHERE id = ANY(…)`) when the turn ends, instead of one query each. Under load that is one
 * round trip, one socket write and one PostgreSQL statement for a dozen requests; alone, a read waits
 * for nothing but the end of the current turn. A read queued after a write was acknowledged runs after
 * it, so it sees it. Ownership is not decided here: the caller checks the row it gets.
 */
import type { Sql } from '@orders/platform';

/** Ids per query: bounds one statement's size. */
const MAX_IDS = 256;
/** Statements at once (the pool has 8 connections, shared with everything else). */
const MAX_IN_FLIGHT = 4;

export class CoalescingReader<Row extends { id: string }> {
  private waiting = new Map<string, { resolve(row: Row | undefined): void; reject(err: unknown): void }[]>();

  constructor(
    private readonly sql: Sql,
    /** `SELECT … FROM orders o` with every column the callers need; the reader adds the WHERE. */
    private readonly select: string,
  ) {}

  read(anyId: string): Promise<Row | undefined> {
    // The schema lets through the spellings PostgreSQL reads as the same uuid (upper case, a `urn:uuid:`
    // prefix it does not read): one form, the one rows come back in.
    const id = anyId.toLowerCase().replace(/^urn:uuid:/, '');
    return new Promise((resolve, reject) => {
      const callers = this.waiting.get(id);
      if (callers) callers.push({ resolve, reject });
      else this.waiting.set(id, [{ resolve, reject }]);
      this.schedule();
    });
  }

  /** Statements in flight, and whether a flush is due at the end of this turn. */
  private inFlight = 0;
  private scheduled = false;

  private schedule(): void {
    if (this.scheduled || this.inFlight >= MAX_IN_FLIGHT) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /**
   * Sends what waits. With MAX_IN_FLIGHT statements already running, reads keep gathering until one
   * returns (a slow database then gets fewer, larger statements instead of a growing queue of them).
   */
  private flush(): void {
    this.scheduled = false;
    const waiting = this.waiting;
    this.waiting = new Map();
    const ids = [...waiting.keys()];
    for (let i = 0; i < ids.length; i += MAX_IDS) {
      this.inFlight++;
      void this.query(ids.slice(i, i + MAX_IDS), waiting).finally(() => {
        this.inFlight--;
        if (this.waiting.size > 0) this.schedule();
      });
    }
  }

  private async query(ids: string[], waiting: Map<string, { resolve(row: Row | undefined): void; reject(err: unknown): void }[]>) {
    try {
      const rows = await this.sql<Row[]>`${this.sql.unsafe(this.select)} WHERE o.id = ANY(${ids}::uuid[])`;
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const id of ids) for (const c of waiting.get(id) ?? []) c.resolve(byId.get(id));
    } catch (err) {
      if (ids.length === 1) {
        for (const c of waiting.get(ids[0] as string) ?? []) c.reject(err);
        return;
      }
      // One caller's bad id must not fail the others of its turn: each id alone, its error its own.
      await Promise.all(ids.map((id) => this.query([id], waiting)));
    }
  }
}
