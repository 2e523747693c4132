/**
 * What one socket of the load test has seen of its user's feed, as ws-edge/src/protocol.ts tells clients
 * to keep it: the baseline (`ready.seq` of its first connection), the highest sequence up to which it has
 * seen everything (`contiguous`, what it resumes after), and the few sequences seen beyond a hole
 * (updates may arrive out of order around a resume). Kept small: a load-test process holds thousands.
 */
export class SeqTracker {
  /** `ready.seq` of the first connection; undefined before it. */
  baseline: number | undefined;
  contiguous = 0;
  /** Set once the edge answered `resync`: what came before cannot be verified any more. */
  resynced = false;
  /** Sequences above a hole (sorted); usually absent. */
  private ahead: number[] | undefined;
  /** Live updates that came before the first `ready` (the edge subscribes before it reads the baseline). */
  private early: number[] | undefined;

  /**
   * A `ready` frame. The first one sets the baseline (`null`: the edge did not know it; everything
   * from then on is taken as it comes and the socket is not verified); later ones (a reconnection) change nothing.
   */
  ready(seq: number | null): 'first' | 'again' {
    if (this.baseline !== undefined) return 'again';
    if (seq === null) this.resynced = true;
    this.baseline = seq ?? 0;
    this.contiguous = this.baseline;
    const early = this.early;
    this.early = undefined;
    if (early) for (const s of early) if (s > this.contiguous) this.update(s);
    return 'first';
  }

  /** A status update: 'new' the first time its sequence is seen, else 'repeat'. */
  update(seq: number): 'new' | 'repeat' {
    if (this.baseline === undefined) {
      if (!this.early) this.early = [];
      else if (this.early.includes(seq)) return 'repeat';
      this.early.push(seq);
      return 'new';
    }
    if (seq <= this.contiguous) return 'repeat';
    if (seq === this.contiguous + 1) {
      this.contiguous = seq;
      const ahead = this.ahead;
      if (ahead) {
        while (ahead.length > 0 && ahead[0] === this.contiguous + 1) this.contiguous = ahead.shift() as number;
        if (ahead.length === 0) this.ahead = undefined;
      }
      return 'new';
    }
    if (!this.ahead) this.ahead = [];
    const ahead = this.ahead;
    let i = 0;
    while (i < ahead.length && (ahead[i] as number) < seq) i++;
    if (ahead[i] === seq) return 'repeat';
    ahead.splice(i, 0, seq);
    return 'new';
  }

  /** The edge could not replay: a real client re-reads through REST; this one counts from what it has seen. */
  resync(): void {
    this.resynced = true;
    const top = this.ahead?.[this.ahead.length - 1];
    if (top !== undefined) this.contiguous = top;
    this.ahead = undefined;
  }

  /** Updates up to `last` (the last one published to this user) this socket has not seen. */
  missing(last: number): number {
    if (this.baseline === undefined) return 0;
    let n = Math.max(0, last - this.contiguous);
    if (this.ahead) for (const s of this.ahead) if (s <= last) n -= 1;
    return n;
  }
}
