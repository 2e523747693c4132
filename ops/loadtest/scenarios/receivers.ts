/**
 * webhook-storm's receivers: one HTTP server on this machine, one path per endpoint, behaving by class:
 * `fast` answers 200 at once, `slow` after a few seconds (inside the dispatcher's time-out), `failing`
 * 500 every time. Per second of the run (by the clock given) it counts what each class received and
 * answered, the delivery latency (arrival − the event's own timestamp in the payload, so the whole way
 * from the status change through Kafka, fan-out and the dispatcher), and each endpoint's deliveries in
 * flight at once.
 */
import type { Server } from 'bun';

export const RECEIVER_CLASSES = ['fast', 'slow', 'failing'] as const;
export type ReceiverClass = (typeof RECEIVER_CLASSES)[number];

interface SecondStats {
  received: number;
  ok: number;
  refused: number;
  latenciesMs: number[];
}

export interface ReceiverStats {
  perSecond: Record<ReceiverClass, SecondStats[]>;
  /** Distinct webhook-ids each endpoint received. */
  distinct: Map<string, Set<string>>;
  /** The most deliveries any one endpoint of the class had in flight at once. */
  maxInFlight: Record<ReceiverClass, number>;
}

export class Receivers {
  private readonly server: Server<undefined>;
  readonly stats: ReceiverStats = {
    perSecond: { fast: [], slow: [], failing: [] },
    distinct: new Map(),
    maxInFlight: { fast: 0, slow: 0, failing: 0 },
  };
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly publicHost: string,
    private readonly elapsedS: () => number,
    slowMs: number,
  ) {
    const loopback = publicHost === '127.0.0.1' || publicHost === 'localhost';
    this.server = Bun.serve({
      // Reachable from elsewhere only when the target's dispatcher is elsewhere (--receiver-host).
      hostname: loopback ? '127.0.0.1' : '0.0.0.0',
      port: 0,
      fetch: async (req) => {
        const m = /^\/hooks\/(fast|slow|failing)\/(\d+)$/.exec(new URL(req.url).pathname);
        if (!m || req.method !== 'POST') return new Response('not here', { status: 404 });
        const cls = m[1] as ReceiverClass;
        const endpoint = `${cls}/${m[2]}`;
        const arrived = Date.now();
        const body = await req.text();
        const n = (this.inFlight.get(endpoint) ?? 0) + 1;
        this.inFlight.set(endpoint, n);
        this.stats.maxInFlight[cls] = Math.max(this.stats.maxInFlight[cls], n);
        try {
          const s = this.second(cls);
          s.received++;
          let eventAt = Number.NaN;
          try {
            eventAt = Date.parse((JSON.parse(body) as { timestamp?: string }).timestamp ?? '');
          } catch {
            // A body that is not the platform's payload: counted, without a latency.
          }
          if (Number.isFinite(eventAt)) s.latenciesMs.push(Math.max(0, arrived - eventAt));
          const id = req.headers.get('webhook-id') ?? '';
          const seen = this.stats.distinct.get(endpoint) ?? new Set<string>();
          seen.add(id);
          this.stats.distinct.set(endpoint, seen);
          if (cls === 'failing') {
            s.refused++;
            return new Response('failing on purpose (load test)', { status: 500 });
          }
          if (cls === 'slow') await Bun.sleep(slowMs);
          s.ok++;
          return new Response('ok');
        } finally {
          this.inFlight.set(endpoint, (this.inFlight.get(endpoint) ?? 1) - 1);
        }
      },
    });
  }

  private second(cls: ReceiverClass): SecondStats {
    const row = this.stats.perSecond[cls];
    const s = Math.max(0, Math.floor(this.elapsedS()));
    for (let i = row.length; i <= s; i++) row.push({ received: 0, ok: 0, refused: 0, latenciesMs: [] });
    return row[s] as SecondStats;
  }

  url(cls: ReceiverClass, i: number): string {
    const host = this.publicHost.includes(':') && !this.publicHost.startsWith('[') ? `[${this.publicHost}]` : this.publicHost;
    return `http://${host}:${this.server.port}/hooks/${cls}/${i}`;
  }

  /** Distinct deliveries the class's endpoints received. */
  distinctOf(cls: ReceiverClass): number {
    let n = 0;
    for (const [endpoint, ids] of this.stats.distinct) if (endpoint.startsWith(`${cls}/`)) n += ids.size;
    return n;
  }

  stop(): void {
    this.server.stop(true);
  }
}

/** The value at percentile `p` of `values` (sorted here), or null. */
export function percentileOf(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}
