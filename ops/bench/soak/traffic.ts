/**
 * The soak's load, open loop: orders (each with an Idempotency-Key) and reads (80 % an order by id, 20 %
 * a page of the user's orders) at their own steady rates, each request counted from its scheduled
 * moment, so a stall shows as latency rather than as fewer requests.
 */

/** One answer: when the request was due, how long until its answer, its status (0: none came). */
export interface Answer {
  at: number;
  ms: number;
  status: number;
}

export class Traffic {
  readonly post: Answer[] = [];
  readonly reads: Answer[] = [];
  readonly placed: { at: number; id: string }[] = [];
  readonly inflight: Promise<void>[] = [];
  /** User index → their latest order ids, what the reads by id ask for. */
  private readonly recent = new Map<number, string[]>();
  private sent = 0;
  private readsSent = 0;

  constructor(
    private readonly o: {
      base: string;
      t0: number;
      rate: number;
      readRate: number;
      users: number;
      skus: string[];
      /** The users' current tokens (re-minted during the run). */
      tokens: () => string[];
    },
  ) {}

  /** Sends whatever is due by `now`, orders and reads at their own rates. */
  sendDue(now: number): void {
    const { base, t0, rate, readRate, users, skus } = this.o;
    const tokens = this.o.tokens();
    const dueOrders = Math.floor(((now - t0) / 1000) * rate);
    for (; this.sent < dueOrders; this.sent++) {
      const sent = this.sent;
      const u = sent % users;
      const scheduled = t0 + (sent * 1000) / rate;
      this.inflight.push(
        fetch(`${base}/api/v1/orders`, {
          method: 'POST',
          headers: { authorization: `Bearer ${tokens[u]}`, 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
          body: JSON.stringify({ items: [{ sku: skus[sent % skus.length], quantity: 1 }], paymentMethodToken: 'pm_card_visa' }),
        })
          .then(async (r) => {
            const b = (await r.json()) as { id?: string };
            this.post.push({ at: scheduled, ms: Date.now() - scheduled, status: r.status });
            if (r.status === 201 && b.id) {
              this.placed.push({ at: scheduled, id: b.id });
              const list = this.recent.get(u) ?? [];
              list.push(b.id);
              if (list.length > 5) list.shift();
              this.recent.set(u, list);
            }
          })
          .catch(() => void this.post.push({ at: scheduled, ms: Date.now() - scheduled, status: 0 })),
      );
    }
    const dueReads = Math.floor(((now - t0) / 1000) * readRate);
    for (; this.readsSent < dueReads; this.readsSent++) {
      const readsSent = this.readsSent;
      const u = (readsSent * 7) % users;
      const scheduled = t0 + (readsSent * 1000) / readRate;
      const ids = this.recent.get(u);
      const path = readsSent % 5 === 0 || !ids?.length ? '/api/v1/orders?limit=20' : `/api/v1/orders/${ids[readsSent % ids.length]}`;
      this.inflight.push(
        fetch(`${base}${path}`, { headers: { authorization: `Bearer ${tokens[u]}` } })
          .then(async (r) => {
            await r.arrayBuffer();
            this.reads.push({ at: scheduled, ms: Date.now() - scheduled, status: r.status });
          })
          .catch(() => void this.reads.push({ at: scheduled, ms: Date.now() - scheduled, status: 0 })),
      );
    }
  }

  /** Waits for every request sent so far to be answered (or to fail). */
  async settle(): Promise<void> {
    await Promise.all(this.inflight.splice(0));
  }
}
