/**
 * WebSocket status-feed clients shared by the suites:
 *   - FeedClient: one socket that authenticates with its first frame and collects every frame (end-to-end
 *     and container suites);
 *   - Feed: behaves as the README tells clients to (fault and container suites): it reconnects, resumes
 *     after the last sequence up to which it has seen everything, and counts gaps, repeats and conflicts.
 */
/** A WebSocket client that authenticates with its first frame and collects every frame it receives. */
export class FeedClient {
  readonly frames: Record<string, unknown>[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly ws: WebSocket;
  private waiters: (() => void)[] = [];

  /** @param tls options for wss:// (e.g. the CA of a self-signed certificate) */
  constructor(token: string | null, url: string, tls?: { ca: string }) {
    // Bun's WebSocket takes TLS options in its second argument (not in the DOM typings).
    this.ws = tls ? new WebSocket(url, { tls } as unknown as string[]) : new WebSocket(url);
    this.ws.onopen = () => {
      if (token !== null) this.ws.send(JSON.stringify({ type: 'auth', token }));
    };
    this.ws.onmessage = (e) => {
      this.frames.push(JSON.parse(String(e.data)) as Record<string, unknown>);
      this.notify();
    };
    this.ws.onclose = (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.notify();
    };
  }

  send(text: string) {
    this.ws.send(text);
  }

  private notify() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves with the first frame matching `pred`, or rejects after `ms`. */
  async waitFor(pred: (f: Record<string, unknown>) => boolean, ms = 15_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.frames.find(pred);
      if (hit) return hit;
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) before the frame arrived`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame within ${ms} ms; got ${JSON.stringify(this.frames).slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close() {
    this.ws.close(1000, 'done');
  }
}

export interface FeedUpdate {
  seq: number;
  orderId: string;
  status: string;
  epoch: number;
}

/**
 * A customer's live feed: counts from the `ready` sequence, keeps the highest sequence up to which it
 * has seen everything, resumes after it when reconnected or asked to, and starts a new epoch (a fresh
 * socket, a REST re-read in a real client) when the edge says `resync`.
 */
export class Feed {
  readonly updates: FeedUpdate[] = [];
  readonly resyncs: { at: number; reason: string }[] = [];
  reconnects = 0;
  /** Same sequence, same epoch, different content: a broken feed. */
  conflicts = 0;
  /** Same sequence delivered again with the same content (harmless, counted). */
  repeats = 0;
  epoch = 0;
  private baseline: number | undefined;
  private contiguous = 0;
  private seen = new Map<number, string>();
  private ws: WebSocket | undefined;
  private closed = false;
  private lastResumed = 0;
  private waiters: (() => void)[] = [];

  /**
   * @param url the edge (or nginx in front of it): ws://…/ws/orders
   * @param tls options for wss:// (e.g. the CA of a self-signed certificate)
   */
  constructor(
    readonly customer: { token: string },
    private readonly url: string,
    private readonly tls?: { ca: string },
  ) {}

  connect(): void {
    if (this.closed) return;
    // Bun's WebSocket takes TLS options in its second argument (not in the DOM typings).
    const ws = this.tls ? new WebSocket(this.url, { tls: this.tls } as unknown as string[]) : new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: this.customer.token }));
    ws.onmessage = (e) => this.onFrame(JSON.parse(String(e.data)) as Record<string, unknown>);
    ws.onclose = () => {
      if (this.ws !== ws || this.closed) return;
      this.reconnects++;
      setTimeout(() => this.connect(), 200 + Math.random() * 800);
    };
    ws.onerror = () => {};
  }

  private onFrame(f: Record<string, unknown>): void {
    if (f.type === 'ready') {
      if (this.baseline === undefined) {
        if (typeof f.seq !== 'number') {
          // Redis is down: the edge does not know where the feed stands; try again shortly.
          this.ws?.close();
          return;
        }
        this.baseline = f.seq;
        this.contiguous = f.seq;
      } else this.resume();
    } else if (f.type === 'resume-needed') this.resume();
    else if (f.type === 'resumed') this.lastResumed = Date.now();
    else if (f.type === 'resync') {
      this.resyncs.push({ at: Date.now(), reason: String(f.reason) });
      this.newEpoch();
    } else if (f.type === 'order.status') this.onUpdate(f);
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private onUpdate(f: Record<string, unknown>): void {
    const seq = Number(f.seq);
    const content = `${f.orderId}|${f.status}`;
    const had = this.seen.get(seq);
    if (had !== undefined) {
      if (had === content) this.repeats++;
      else this.conflicts++;
      return;
    }
    if (this.baseline === undefined || seq <= this.baseline) return;
    this.seen.set(seq, content);
    this.updates.push({ seq, orderId: String(f.orderId), status: String(f.status), epoch: this.epoch });
    while (this.seen.has(this.contiguous + 1)) this.contiguous++;
  }

  private resume(): void {
    this.ws?.send(JSON.stringify({ type: 'resume', after: this.contiguous }));
  }

  /** A resync: the feed's history is gone; a real client re-reads through REST and counts afresh. */
  private newEpoch(): void {
    this.epoch++;
    this.baseline = undefined;
    this.seen = new Map();
    this.contiguous = 0;
    const old = this.ws;
    this.ws = undefined;
    old?.close();
    this.connect();
  }

  /** Asks for everything after the contiguous point and waits for the answer (`resumed` or `resync`). */
  async settle(timeoutMs = 10_000): Promise<void> {
    const asked = Date.now();
    const deadline = asked + timeoutMs;
    while (Date.now() < deadline) {
      if (this.ws?.readyState === WebSocket.OPEN && this.baseline !== undefined) {
        this.resume();
        const until = Date.now() + 2_000;
        while (this.lastResumed < asked && Date.now() < until) await this.nextFrame(200);
        if (this.lastResumed >= asked) return;
      } else await Bun.sleep(200);
    }
  }

  /** Resolves at the next frame, or after `ms`. */
  private nextFrame(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      setTimeout(resolve, ms);
    });
  }

  state() {
    return { baseline: this.baseline, contiguous: this.contiguous, epoch: this.epoch, maxSeen: Math.max(0, ...this.seen.keys()) };
  }

  close(): void {
    this.closed = true;
    this.ws?.close();
  }
}
