/**
 * Status updates for the load test's users, published exactly as the platform's status projector does:
 * `StatusFeedPublisher` (platform/src/status-feed), one Lua script that stores the update in the user's
 * recovery set and publishes it on the feed channel every edge subscribes to. Each user's sequence goes
 * on from the highest one Redis holds for them; every update carries `sentAt` (epoch ms, sub-millisecond)
 * for the clients' publish → receive latency. Extra fields pass through the edge untouched.
 *
 * Users are taken round-robin (in a shuffled order): at a steady rate each user gets an update every
 * `users / rate` seconds, and per-user order is the publish order (one connection, in order).
 */
import { randomUUID } from 'node:crypto';
import type { OrderStatus, StatusUpdate } from '@orders/contracts';
import { feedKeys, latestSeq, type RedisClient, StatusFeedPublisher } from '@orders/platform';

export type LoadUpdate = StatusUpdate & { sentAt: number };

const STATUSES: OrderStatus[] = ['pending', 'validated', 'paid', 'shipped'];
const now = () => performance.timeOrigin + performance.now();

export class FeedLoad {
  /** The last sequence published per user (index = the run's user index). */
  readonly last: number[];
  /** Each user's sequence after the seed update: what came later is the run's load. */
  private readonly seeded: number[];
  published = 0;
  failed = 0;
  private readonly publisher: StatusFeedPublisher;
  private readonly keys: ReturnType<typeof feedKeys>;
  private readonly order: number[];
  private cursor = 0;
  private inFlight = new Set<Promise<unknown>>();
  private loop: Promise<void> | undefined;
  private running = false;
  private secondCount = 0;
  lastError = '';

  constructor(
    private readonly redis: RedisClient,
    namespace: string,
    private readonly userIds: string[],
  ) {
    this.publisher = new StatusFeedPublisher(redis, feedKeys(namespace));
    this.last = new Array<number>(userIds.length).fill(0);
    this.seeded = new Array<number>(userIds.length).fill(0);
    this.order = userIds.map((_, i) => i);
    for (let i = this.order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [this.order[i], this.order[j]] = [this.order[j] as number, this.order[i] as number];
    }
    this.keys = feedKeys(namespace);
  }

  private update(i: number): LoadUpdate {
    this.last[i] = (this.last[i] ?? 0) + 1;
    const seq = this.last[i] as number;
    return {
      type: 'order.status',
      seq,
      userId: this.userIds[i] as string,
      orderId: randomUUID(),
      status: STATUSES[seq % STATUSES.length] as OrderStatus,
      previousStatus: STATUSES[(seq + STATUSES.length - 1) % STATUSES.length] as OrderStatus,
      version: seq,
      reason: null,
      occurredAt: Date.now(),
      eventId: randomUUID(),
      sentAt: now(),
    };
  }

  /**
   * Publishes one update; a failed attempt is retried with the same sequence, as the projector retries its
   * batch (the script refuses a sequence already stored, so a retry of one that did land counts as published).
   */
  private publishOne(i: number): Promise<unknown> {
    const update = this.update(i);
    const attempt = async () => {
      for (let n = 0; ; n++) {
        try {
          const fresh = await this.publisher.publish(update);
          if (fresh || n > 0) this.published += 1;
          else {
            this.failed += 1;
            this.lastError = `sequence ${update.seq} refused as a duplicate`;
          }
          return;
        } catch (err) {
          this.lastError = (err as Error).message;
          if (n >= 2) {
            this.failed += 1;
            return;
          }
          await new Promise((r) => setTimeout(r, 100 * (n + 1)));
        }
      }
    };
    const p = attempt();
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /**
   * Reads each user's highest sequence, then publishes one update to every user before any socket
   * connects: every socket then starts from a sequence Redis holds, so a resume after it is answered
   * (a user with no update at all can only be told `resync`).
   */
  async seed(signal: AbortSignal): Promise<void> {
    const CHUNK = 2_000;
    for (let from = 0; from < this.userIds.length; from += CHUNK) {
      if (signal.aborted) throw signal.reason;
      const ids = this.userIds.slice(from, from + CHUNK);
      const seqs = await Promise.all(ids.map((id) => latestSeq(this.redis, this.keys, id)));
      seqs.forEach((s, k) => {
        this.last[from + k] = s;
      });
      await Promise.all(ids.map((_, k) => this.publishOne(from + k)));
    }
    if (this.failed > 0) throw new Error(`seeding the feed failed for ${this.failed} users: ${this.lastError}`);
    this.published = 0;
    this.seeded.splice(0, this.seeded.length, ...this.last);
  }

  /** Publishes `rate` updates per second until `stop()`. */
  start(rate: number): void {
    if (this.running || rate <= 0) return;
    this.running = true;
    const t0 = now();
    let sent = 0;
    this.loop = (async () => {
      while (this.running) {
        const due = Math.floor(((now() - t0) / 1000) * rate);
        // A stalled Redis must not pile up unbounded work: at most 2 s of updates in flight.
        while (sent < due && this.inFlight.size < Math.max(100, rate * 2)) {
          const i = this.order[this.cursor] as number;
          this.cursor = (this.cursor + 1) % this.order.length;
          void this.publishOne(i);
          sent += 1;
          this.secondCount += 1;
        }
        if (sent < due) sent = due; // dropped for back-pressure: counted in `published` by what went out
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
  }

  /** Stops publishing and waits for what is in flight. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all([...this.inFlight]);
  }

  /** Deliveries owed after the seed: every update published to a user, once per socket of that user. */
  expected(socketsOf: (user: number) => number): number {
    let n = 0;
    for (let u = 0; u < this.last.length; u++) n += ((this.last[u] ?? 0) - (this.seeded[u] ?? 0)) * socketsOf(u);
    return n;
  }

  /** Updates started since the previous call. */
  takeSecond(): number {
    const n = this.secondCount;
    this.secondCount = 0;
    return n;
  }
}
