/**
 * Fraud scoring off the main thread: a Tinypool of worker threads sized from configuration. A batch is
 * split into one chunk per thread; feature buffers are transferred, so nothing is copied. The main
 * thread only extracts features and awaits: it never blocks on the model. What waits for the pool is
 * bounded by the consumer (KAFKA_MAX_BUFFERED): at most one batch per partition is scored at a time.
 */
import { fileURLToPath } from 'node:url';
import Tinypool from 'tinypool';
import { FEATURES, type ScoredOrder, scoreBatch, writeFeatures } from './model';

export class FraudScorer {
  private readonly pool: Tinypool | undefined;

  constructor(private readonly threads: number) {
    this.pool =
      threads > 0
        ? new Tinypool({
            filename: fileURLToPath(new URL('./worker.mjs', import.meta.url)),
            minThreads: threads,
            maxThreads: threads,
          })
        : undefined;
  }

  /** Scores on the pool (or inline when configured with 0 threads). */
  async score(orders: ScoredOrder[]): Promise<number[]> {
    if (orders.length === 0) return [];
    if (!this.pool) return scoreInline(orders);
    const chunks = Math.min(this.threads, Math.ceil(orders.length / 16));
    const size = Math.ceil(orders.length / chunks);
    const parts = await Promise.all(
      Array.from({ length: chunks }, (_, c) => {
        const slice = orders.slice(c * size, (c + 1) * size);
        const features = new Float64Array(slice.length * FEATURES);
        slice.forEach((o, i) => {
          writeFeatures(o, features, i * FEATURES);
        });
        return this.pool?.run({ features, count: slice.length }, { transferList: [features.buffer] }) as Promise<Float64Array>;
      }),
    );
    return parts.flatMap((p) => Array.from(p));
  }

  /** Starts every thread (each loads the model once) so the first real batch does not pay for it. */
  async warmUp(): Promise<void> {
    if (!this.pool) return;
    const order = {
      userId: 'warm-up',
      totalCents: 100,
      items: [{ sku: 'WARM-UP', quantity: 1, unitPriceCents: 100 }],
      occurredAt: Date.now(),
    };
    await this.score(Array.from({ length: 16 * Math.max(1, this.threads) }, () => order));
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
  }
}

export function scoreInline(orders: ScoredOrder[]): number[] {
  const features = new Float64Array(orders.length * FEATURES);
  orders.forEach((o, i) => {
    writeFeatures(o, features, i * FEATURES);
  });
  return Array.from(scoreBatch(features, orders.length));
}
