/**
 * Keeps the console current: runs its work now, then again `everyMs` after each run ends, only while
 * the tab is visible (a hidden tab asks nothing; it catches up the moment it is shown again). Never two
 * runs at once: a run asked for during one (a filter changed, an order opened) follows right after it.
 */
export class Refresher {
  private running = false;
  private again = false;
  private stopped = true;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onVisibility = () => {
    if (document.visibilityState === 'visible') void this.now();
  };

  constructor(
    private readonly work: () => Promise<void>,
    private readonly everyMs: number,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    document.addEventListener('visibilitychange', this.onVisibility);
    void this.now();
  }

  stop(): void {
    this.stopped = true;
    this.again = false;
    clearTimeout(this.timer);
    document.removeEventListener('visibilitychange', this.onVisibility);
  }

  /** Runs the work now, or right after the run in progress. `work` reports its own errors. */
  async now(): Promise<void> {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = true;
    try {
      await this.work();
    } finally {
      this.running = false;
    }
    if (this.again) {
      this.again = false;
      return this.now();
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      if (document.visibilityState === 'visible') void this.now();
    }, this.everyMs);
  }
}
