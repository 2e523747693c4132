/**
 * One read shared by everyone who asks for it: while it is in flight every caller gets it, however long
 * it has been running, and once it has resolved it answers for `ttlMs` more, counted from when it
 * resolved (a slow read does not use up its sharing while it runs, so a slow scan is not followed at once
 * by another). A failed read is never kept: the next caller starts a new one.
 */
export class SharedRead<T> {
  private current: { read: Promise<T>; resolvedAt?: number } | undefined;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<T> {
    const c = this.current;
    if (c && (c.resolvedAt === undefined || this.now() - c.resolvedAt < this.ttlMs)) return c.read;
    const entry: { read: Promise<T>; resolvedAt?: number } = { read: this.read() };
    this.current = entry;
    // Registered before any caller's own handlers: a caller that asks again as soon as its read settled
    // already sees it dated (or, failed, forgotten).
    entry.read.then(
      () => {
        entry.resolvedAt = this.now();
      },
      () => {
        if (this.current === entry) this.current = undefined;
      },
    );
    return entry.read;
  }
}
