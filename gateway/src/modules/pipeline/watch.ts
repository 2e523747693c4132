/**
 * Keeps the pipeline gauges current: every PIPELINE_WATCH_INTERVAL_MS the overview is read (one scan of
 * orders, overview.ts) and `orders_stuck{stage}` (orders waiting longer than the stage's threshold) and
 * `orders_stage_oldest_age_seconds{stage}` set from it; the OrdersStuck alert reads the first. One run at
 * a time; a failed run is logged and the next one tries again (the gauges keep their last values; none
 * is set before the first read succeeds, rather than a reassuring 0). Every gateway reports the same
 * numbers, so alerts take max() across them. Like maintenance.ts, `start` returns a function that stops
 * it and waits for a run in progress.
 *
 * Kept gauges would hide a watch that keeps failing, so
 * `orders_pipeline_watch_last_success_timestamp_seconds` says when it last read (the PipelineWatchStale
 * alert). It appears when the watch starts, set to that time until the first success, so a watch that
 * never succeeds goes stale too; a gateway with the watch off (interval 0) exports none. The gateway
 * reads through PipelineService.overview (index.ts), the read the API shares: one scan of orders per
 * interval, not one more.
 */
import type { Logger, Metrics } from '@orders/platform';
import type { PipelineOverview } from './model';

export class PipelineWatch {
  private readonly stuck;
  private readonly oldest;
  private readonly lastSuccess;

  constructor(
    private readonly read: () => Promise<PipelineOverview>,
    metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.stuck = metrics.gauge('stuck', 'Orders waiting on a stage longer than its stuck threshold', ['stage']);
    this.oldest = metrics.gauge('stage_oldest_age_seconds', 'How long the oldest order waiting on a stage has waited', ['stage']);
    this.lastSuccess = metrics.gauge(
      'pipeline_watch_last_success_timestamp_seconds',
      'Unix time of the pipeline watch’s last successful read (its start until the first); absent while no watch runs',
    );
    // A gauge without labels would be exported as 0 ("never") before anything sets it: none until the watch runs.
    this.lastSuccess.remove();
  }

  /** One refresh; a failure is logged, never thrown. */
  async refresh(): Promise<void> {
    try {
      const overview = await this.read();
      for (const s of overview.stages) {
        this.stuck.set({ stage: s.stage }, s.stuck);
        this.oldest.set({ stage: s.stage }, (s.ageMs?.max ?? 0) / 1000);
      }
      this.lastSuccess.set(Date.now() / 1000);
    } catch (err) {
      this.logger.warn({ err }, 'pipeline watch: refresh failed; will retry');
    }
  }

  /** Refreshes now and every `intervalMs` (0: never); the returned function stops it. */
  start(intervalMs: number): () => Promise<void> {
    if (intervalMs <= 0) return async () => {};
    this.lastSuccess.set(Date.now() / 1000);
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
