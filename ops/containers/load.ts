/**
 * Order load through nginx for the container suite: a fixed rate (open loop: a request leaves on schedule
 * whether or not earlier ones have answered), customers placing orders with Idempotency-Keys, every failed
 * attempt retried with its key (what a client of this API does). Keeps every first-attempt failure and
 * every acknowledged order, so a test can compare them with the database. Bounded in count and time.
 */
import { type Customer, placeOrder, type Stage } from './harness';

export interface LoadResult {
  sent: number;
  acknowledged: string[];
  /** Who placed each acknowledged order. */
  owners: Map<string, Customer>;
  /** First attempts that did not get a 201 (a retry with the same key followed). */
  firstAttemptFailures: Array<{ at: number; status: number; code?: string }>;
  /** Orders never acknowledged after every retry. */
  unacknowledged: number;
  /** Requests in flight at each mark (e.g. the moment a container was killed). */
  inFlightAt: Record<string, number>;
  retries: number;
  /** When each order's first attempt left (ms since the load started). */
  sentAt: number[];
}

export class OrderLoad {
  private inFlight = 0;
  private readonly result: LoadResult = {
    sent: 0,
    acknowledged: [],
    owners: new Map(),
    firstAttemptFailures: [],
    unacknowledged: 0,
    inFlightAt: {},
    retries: 0,
    sentAt: [],
  };
  private readonly pending = new Set<Promise<void>>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  readonly startedAt = Date.now();

  constructor(
    private readonly stage: Stage,
    private readonly customers: Customer[],
    private readonly ratePerSecond: number,
    private readonly maxOrders: number,
  ) {}

  start() {
    this.loop = (async () => {
      const every = 1000 / this.ratePerSecond;
      for (let i = 0; i < this.maxOrders && !this.stopped; i++) {
        const due = this.startedAt + i * every;
        const wait = due - Date.now();
        if (wait > 0) await Bun.sleep(wait);
        const p = this.one(this.customers[i % this.customers.length] as Customer).finally(() => this.pending.delete(p));
        this.pending.add(p);
      }
    })();
    return this;
  }

  /** Remembers how many requests are in flight now, under a name. */
  mark(name: string) {
    this.result.inFlightAt[name] = this.inFlight;
  }

  private async one(c: Customer) {
    this.result.sent++;
    this.result.sentAt.push(Date.now() - this.startedAt);
    const key = crypto.randomUUID();
    for (let attempt = 0; attempt < 30; attempt++) {
      this.inFlight++;
      let status = 0;
      let code: string | undefined;
      let id: string | undefined;
      try {
        const r = await placeOrder(this.stage, c, key);
        status = r.status;
        code = r.body?.code;
        id = r.body?.id;
      } catch {
        status = 0;
      } finally {
        this.inFlight--;
      }
      if (status === 201 && id) {
        this.result.acknowledged.push(id);
        this.result.owners.set(id, c);
        return;
      }
      if (attempt === 0) this.result.firstAttemptFailures.push({ at: Date.now() - this.startedAt, status, code });
      this.result.retries++;
      await Bun.sleep(250);
    }
    this.result.unacknowledged++;
  }

  /** Stops sending and waits for every request (and its retries) to end. */
  async stop() {
    // Idempotent: a test stops its load in a finally, then reads the result.
    this.stopped = true;
    await this.loop;
    await Promise.all([...this.pending]);
    return this.result;
  }

  /** Orders whose first attempt left between two instants (Date.now() values). */
  sentBetween(from: number, to: number) {
    return this.result.sentAt.filter((t) => t + this.startedAt >= from && t + this.startedAt <= to).length;
  }

  get acknowledgedSoFar() {
    return this.result.acknowledged.length;
  }
}
