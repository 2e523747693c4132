/**
 * The browser's side of `/ws/orders` (protocol: ws-edge/src/protocol.ts): authenticate, count
 * sequences, resume after a reconnect, fall back to a REST re-read when the edge says `resync`,
 * reconnect with capped, jittered backoff, and hand the edge a fresh token before the old expires.
 * No DOM here: the page (app.ts) supplies tokens and receives updates.
 */
import type { StatusUpdate } from '@orders/contracts';

/**
 * The highest sequence up to which this client has seen every update. Updates may arrive out of order
 * (two orders moving at once, or a live one ahead of a replay): those above a hole wait in `ahead`.
 */
export class SeqWatermark {
  private base: number | null = null;
  private readonly ahead = new Set<number>();

  get value(): number | null {
    return this.base;
  }

  /** Where a fresh connection starts (the edge's `ready.seq`). */
  start(seq: number): void {
    this.base = seq;
    for (const s of this.ahead) if (s <= seq) this.ahead.delete(s);
    this.advance();
  }

  forget(): void {
    this.base = null;
    this.ahead.clear();
  }

  /** False for an update already seen (a replay overlapping live delivery). */
  see(seq: number): boolean {
    if ((this.base !== null && seq <= this.base) || this.ahead.has(seq)) return false;
    // No base yet (or ever, when the edge could not say): remember a bounded number.
    if (this.base === null && this.ahead.size >= 1_000) this.ahead.clear();
    this.ahead.add(seq);
    this.advance();
    return true;
  }

  private advance(): void {
    if (this.base === null) return;
    while (this.ahead.delete(this.base + 1)) this.base += 1;
  }
}

export type FeedState = 'connecting' | 'live' | 'reconnecting' | 'offline';

export interface FeedHandlers {
  /** A valid access token; `fresh` asks for a newly refreshed one (the edge refused the last). */
  token(fresh: boolean): Promise<string>;
  update(u: StatusUpdate): void;
  /** Everything may have been missed: re-read through the REST API (after the socket is live again). */
  resync(): void;
  state(s: FeedState, detail: string): void;
}

/** Close codes of ws-edge/src/protocol.ts the client acts on. */
const UNAUTHENTICATED = 4401;
const FORBIDDEN = 4403;
const RATE_LIMITED = 4429;
const RESTARTING = 1012;

export class OrderFeed {
  private ws: WebSocket | null = null;
  private readonly seq = new SeqWatermark();
  private attempts = 0;
  private stopped = false;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private freshToken = false;
  /** Whose sequence this client counts: an admin also receives other users' updates (their own numbers). */
  private userId: string | null = null;

  constructor(
    private readonly url: string,
    private readonly on: FeedHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.refreshTimer);
    clearTimeout(this.reconnectTimer);
    this.ws?.close(1000, 'signed out');
    this.ws = null;
    this.seq.forget();
    this.on.state('offline', 'signed out');
  }

  private connect(): void {
    this.on.state(this.attempts === 0 ? 'connecting' : 'reconnecting', 'connecting…');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    let greeted = false;
    ws.onopen = () => {
      void this.on.token(this.freshToken).then(
        (token) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ type: 'auth', token })),
        () => ws.close(1000, 'no token'),
      );
    };
    ws.onmessage = (e) => {
      const frame = JSON.parse(String(e.data)) as { type: string; [k: string]: unknown };
      switch (frame.type) {
        case 'ready':
          this.freshToken = false;
          this.userId = String(frame.userId);
          this.scheduleRefresh(ws, Number(frame.expiresIn));
          if (greeted) return; // a refreshed token, same socket
          greeted = true;
          if (this.seq.value !== null) {
            ws.send(JSON.stringify({ type: 'resume', after: this.seq.value }));
            return;
          }
          // A fresh start: count from the edge's latest sequence, then read the present through REST.
          if (typeof frame.seq === 'number') this.seq.start(frame.seq);
          this.live();
          this.on.resync();
          return;
        case 'order.status': {
          const u = frame as unknown as StatusUpdate;
          if (u.userId !== this.userId) this.on.update(u);
          else if (this.seq.see(u.seq)) this.on.update(u);
          return;
        }
        case 'resume-needed':
          // The edge lost its feed for a moment: ask for what came meanwhile (or start afresh), at a
          // random moment within 2 s, so an edge's clients do not all ask a just-recovered Redis at once.
          setTimeout(() => {
            if (ws.readyState !== WebSocket.OPEN) return;
            if (this.seq.value !== null) ws.send(JSON.stringify({ type: 'resume', after: this.seq.value }));
            else ws.close(1000, 'resync');
          }, Math.random() * 2_000);
          return;
        case 'resumed':
          this.live();
          return;
        case 'resync':
          // Nothing to resume from: start afresh on this socket's successor.
          this.seq.forget();
          greeted = false;
          ws.close(1000, 'resync');
          return;
        default:
          if (frame.type === 'error') console.warn('order feed:', frame.code, frame.message);
      }
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearTimeout(this.refreshTimer);
      if (this.stopped) return;
      if (e.code === FORBIDDEN) {
        this.on.state('offline', 'the live feed refused this session');
        return;
      }
      if (e.code === UNAUTHENTICATED) this.freshToken = true;
      this.attempts += 1;
      // Full jitter, capped: a restarted edge is not met by every client at once.
      const cap = Math.min(10_000, 250 * 2 ** Math.min(this.attempts, 6));
      // A draining edge (1012) closes all its sockets at once: spread their return over 2 s.
      const floor = e.code === RATE_LIMITED ? 5_000 : e.code === RESTARTING ? Math.random() * 2_000 : 0;
      const delay = floor + Math.random() * cap;
      this.on.state('reconnecting', `reconnecting in ${(delay / 1000).toFixed(1)} s`);
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    };
  }

  private live(): void {
    this.attempts = 0;
    this.on.state('live', 'live');
  }

  /**
   * Sends a fresh token a minute before the socket's expires (the edge closes 4401 otherwise). Counted
   * from the edge's `expiresIn`, not its absolute time: this browser's clock may be off.
   */
  private scheduleRefresh(ws: WebSocket, expiresInSeconds: number): void {
    clearTimeout(this.refreshTimer);
    const inMs = Math.max(5_000, expiresInSeconds * 1000 - 60_000);
    this.refreshTimer = setTimeout(() => {
      void this.on.token(true).then(
        (token) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ type: 'auth', token })),
        () => ws.close(1000, 'session ended'),
      );
    }, inMs);
  }
}
