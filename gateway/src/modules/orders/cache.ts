/**
 * A read cache for single orders (`GET /api/v1/orders/:id`), the hottest read: customers poll the
 * order they just placed. Entries are invalidated by events, with a short TTL as the safety net:
 *
 * - this instance's own writes replace the entry at once (read-your-writes on one instance);
 * - status changes arrive on the live feed channel the projector publishes (the same Redis pub/sub
 *   the WebSocket edge fans out), and other instances' writes on an invalidation channel;
 * - when the subscription drops, everything is dropped (messages may have been missed).
 *
 * So a read is normally at most milliseconds behind PostgreSQL, and at worst ORDER_CACHE_TTL_MS when
 * Redis is unreachable. `Cache-Control: no-cache` on the request reads PostgreSQL. Writes always go to
 * PostgreSQL with row locks and versions, so a stale read can never cause a lost update (If-Match on a
 * stale version answers 412).
 */
import { createRedisClient, type FeedKeys, type Logger, type Metrics, parseStatusUpdate } from '@orders/platform';
import type { OrderView } from './model';

/** How long an invalidation is remembered: longer than any read (bounded by the statement timeout) takes. */
const TOMBSTONE_MS = 10_000;

export class OrderCache {
  private readonly entries = new Map<string, { view: OrderView; at: number }>();
  /** Recent invalidations: a read that started before one must not store what it read. */
  private readonly tombstones = new Map<string, number>();
  private readonly hits;
  private readonly misses;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    metrics: Metrics,
  ) {
    this.hits = metrics.counter('order_cache_hits_total', 'GET /orders/:id answered from memory');
    this.misses = metrics.counter('order_cache_misses_total', 'GET /orders/:id read from PostgreSQL');
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  get(id: string): OrderView | undefined {
    const e = this.entries.get(id);
    if (e && Date.now() - e.at < this.ttlMs) {
      this.hits.inc();
      return e.view;
    }
    if (e) this.entries.delete(id);
    this.misses.inc();
    return undefined;
  }

  /**
   * Stores a view. `readStartedAt` is when the read that produced it began: if the order was
   * invalidated since, the view may predate the change and is not stored.
   */
  set(view: OrderView, readStartedAt = Number.POSITIVE_INFINITY): void {
    if (!this.enabled) return;
    const dead = this.tombstones.get(view.id);
    if (dead !== undefined && dead >= readStartedAt) return;
    const now = Date.now();
    // Insertion order is age order: expired entries leave from the head, then the oldest if still full.
    this.entries.delete(view.id);
    for (const [id, e] of this.entries) {
      if (now - e.at < this.ttlMs) break;
      this.entries.delete(id);
    }
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(view.id, { view, at: now });
  }

  /** Drops an entry unless it is already at (or past) `version`. */
  invalidate(id: string, version = Number.POSITIVE_INFINITY): void {
    const e = this.entries.get(id);
    if (e && e.view.version >= version) return;
    this.entries.delete(id);
    const now = Date.now();
    // A tombstone only has to outlive the reads in flight when it was set; none outlives the database's
    // statement timeout (5 s), so after TOMBSTONE_MS it protects nothing. They leave from the head
    // (insertion order is age order) on every invalidation: the map holds about TOMBSTONE_MS ×
    // invalidations/s entries instead of filling up to the cap.
    for (const [k, at] of this.tombstones) {
      if (now - at < Math.max(this.ttlMs, TOMBSTONE_MS)) break;
      this.tombstones.delete(k);
    }
    if (this.tombstones.size >= this.maxEntries) this.tombstones.clear();
    this.tombstones.delete(id);
    this.tombstones.set(id, now);
  }

  clear(): void {
    this.entries.clear();
  }
}

export function invalidationChannel(namespace: string): string {
  return `${namespace ? `${namespace}:` : ''}orders:cache-invalidate`;
}

/**
 * Keeps the cache honest across instances: one Redis subscription for the live feed (status changes)
 * and the invalidation channel (other gateways' writes). Returns the function that closes it.
 */
export function subscribeInvalidations(opts: {
  cache: OrderCache;
  url: string;
  clusterNodes?: string[];
  feed: FeedKeys;
  namespace: string;
  logger: Logger;
}): {
  close(): Promise<void>;
} {
  const { cache } = opts;
  if (!cache.enabled) return { close: async () => {} };
  const sub = createRedisClient({
    url: opts.url,
    clusterNodes: opts.clusterNodes,
    connectionName: 'orders-gateway-cache',
    commandTimeoutMs: 0,
  });
  const channel = invalidationChannel(opts.namespace);
  let wasReady = false;
  sub.on('ready', () => {
    // Messages sent while we were away are lost: start from an empty cache.
    if (wasReady) cache.clear();
    wasReady = true;
    sub.subscribe(opts.feed.channel, channel).catch((err) => opts.logger.warn({ err }, 'cache invalidation subscribe failed'));
  });
  sub.on('close', () => cache.clear());
  sub.on('message', (ch: string, text: string) => {
    if (ch === channel) {
      const [id, version] = text.split(' ');
      if (id) cache.invalidate(id, Number(version));
      return;
    }
    const update = parseStatusUpdate(text);
    if (update) cache.invalidate(update.orderId, update.version);
  });
  sub.on('error', () => {});
  return {
    async close() {
      await sub.quit().catch(() => sub.disconnect());
    },
  };
}
