/**
 * Keeps the pipeline gauges current: every PIPELINE_WATCH_INTERVAL_MS the overview is read (one scan of
 * orders, overview.ts) and `orders_stuck{stage}` (orders waiting longer than the stage's threshold) and
 * `orders_stage_oldest_age_seconds{stage}` set from it; the OrdersStuck alert reads the first. One run at
 * a time; a failed run is logged and the next one tries again (the gauges keep their last values; none
 * is set before the first read succeeds, rather than a reassuring 0). Every gateway reports the same
 * numbers, so alerts take max() across them. Like maintenance.ts, `start` returns a function that stops
 * it and waits for a run in progress.
 */
import type { Logger, Metrics } from '@orders/platform';
import type { PipelineOverview } from './model';

export class PipelineWatch {
  private readonly stuck;
  private readonly oldest;

  constructor(
    private readonly read: () => Promise<PipelineOverview>,
    metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.stuck = metrics.gauge('stuck', 'Orders waiting on a stage longer than its stuck threshold', ['stage']);
    this.oldest = metrics.gauge('stage_oldest_age_seconds', 'How long the oldest order waiting on a stage has waited', ['stage']);
  }

  /** One refresh; a failure is logged, never thrown. */
  async refresh(): Promise<void> {
    try {
      const overview = await this.read();
      for (const s of overview.stages) {
        this.stuck.set({ stage: s.stage }, s.stuck);
        this.oldest.set({ stage: s.stage }, (s.ageMs?.max ?? 0) / 1000);
      }
    } catch (err) {
      this.logger.warn({ err }, 'pipeline watch: refresh failed; will retry');
    }
  }

  /** Refreshes now and every `intervalMs` (0: never); the returned function stops it. */
  start(intervalMs: number): () => Promise<void> {
    if (intervalMs <= 0) return async () => {};
    let running: Promise<void> | undefined = this.refresh().finally(() => (running = undefined));
    const timer = setInterval(() => {
      if (!running) running = this.refresh().finally(() => (running = undefined));
    }, intervalMs);
    return async () => {
      clearInterval(timer);
      await running;
    };
  }
}
