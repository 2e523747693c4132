/**
 * Fraud scoring throughput: the same orders scored on the main thread (the baseline) and on the
 * Tinypool with 1…N threads, with enough batches in flight to keep every thread busy. Prints one JSON
 * line per configuration.
 *
 *   FRAUD_ORDERS (orders per configuration), FRAUD_BATCH (orders per batch), FRAUD_MAX_THREADS
 */
import { availableParallelism } from 'node:os';
import { FraudScorer, scoreInline } from '../src/stages/validator/fraud/pool';

const total = Number(process.env.FRAUD_ORDERS ?? 200_000);
const batch = Number(process.env.FRAUD_BATCH ?? 100);
const maxThreads = Number(process.env.FRAUD_MAX_THREADS ?? Math.max(2, availableParallelism()));

const orders = Array.from({ length: batch }, (_, i) => ({
  userId: `user-${i % 7}`,
  totalCents: 1_000 + i * 37,
  items: Array.from({ length: 1 + (i % 4) }, (__, j) => ({ sku: `SKU-${j}`, quantity: 1 + ((i + j) % 3), unitPriceCents: 500 + j * 250 })),
  occurredAt: Date.now() - i * 1_000,
}));

function row(threads: number, ms: number, loopLagMs: number) {
  process.stdout.write(`${JSON.stringify({ threads, orders: total, ms, rate: (total / ms) * 1000, loopLagMs })}\n`);
}

/** How late a 10 ms timer fires while scoring runs: how much the main thread is blocked. */
function lagProbe() {
  let worst = 0;
  let expected = performance.now() + 10;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - expected);
    expected = now + 10;
  }, 10);
  return () => {
    clearInterval(timer);
    return worst;
  };
}

// Warm-up for the JIT, then the main thread: every batch blocks it (a timer cannot fire in between).
for (let i = 0; i < 200; i++) scoreInline(orders);
{
  const stop = lagProbe();
  const t0 = performance.now();
  for (let done = 0; done < total; done += batch) {
    scoreInline(orders);
    // Yield between batches as a consumer loop would; the lag probe shows the time the loop was blocked.
    await new Promise((r) => setImmediate(r));
  }
  row(0, performance.now() - t0, stop());
}

for (let threads = 1; threads <= maxThreads; threads++) {
  const scorer = new FraudScorer(threads);
  await scorer.warmUp();
  for (let i = 0; i < 50; i++) await scorer.score(orders);
  const stop = lagProbe();
  const t0 = performance.now();
  const inFlight = threads * 4;
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) {
        next += batch;
        await scorer.score(orders);
      }
    }),
  );
  row(threads, performance.now() - t0, stop());
  await scorer.close();
}
