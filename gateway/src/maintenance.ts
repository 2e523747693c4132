/**
 * Runs retention (gateway/src/retention.ts) every interval, one run at a time; a failed run is logged
 * and the next one tries again. The returned function stops it and waits for a run in progress.
 */
import type { Logger } from '@orders/platform';
import type { Retention } from './retention';

export function startMaintenance(retention: Retention, logger: Logger, intervalMs: number): () => Promise<void> {
  let running: Promise<void> | undefined;
  const run = async () => {
    try {
      const r = await retention.run();
      if (r.processedEvents + r.webhookMessages + r.deadLetters + r.idempotencyKeys + r.refreshTokens > 0)
        logger.info(r, 'retention: rows removed');
    } catch (err) {
      logger.warn({ err }, 'retention run failed; will retry');
    }
  };
  const timer = setInterval(() => {
    if (!running) running = run().finally(() => (running = undefined));
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}
