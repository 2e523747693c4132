/**
 * One window of the soak summarised: POST and read latency over the successful answers, placed → shipped
 * of the orders placed in it (from PostgreSQL's own stamps), and the last sample taken.
 */
import type postgres from 'postgres';
import { percentile } from '../lib';
import type { Sample } from './sampling';
import type { Answer, Traffic } from './traffic';

export interface Window {
  n: number;
  post: { p50: number; p99: number; ok: number };
  read: { p50: number; p99: number; ok: number };
  e2e: { n: number; p50: number; p99: number };
  sample: Sample;
}

/** Summarises the window that began at `from` (a clock time), once its requests are answered. */
export async function summarise(
  sql: postgres.Sql,
  traffic: Traffic,
  o: { from: number; windowMs: number; n: number; sample: Sample },
): Promise<Window> {
  const { from, windowMs } = o;
  await traffic.settle();
  const stats = (xs: Answer[]) => {
    const mine = xs.filter((x) => x.at >= from && x.at < from + windowMs);
    // Latency of the answers that succeeded: a fast failure must not make a window look quicker.
    const good = mine.filter((x) => x.status > 0 && x.status < 400);
    const ms = good.map((x) => x.ms).sort((a, b) => a - b);
    return { p50: percentile(ms, 50), p99: percentile(ms, 99), ok: good.length };
  };
  // Orders of the window's last 5 s may still be on their way: they are left out, not counted as fast.
  const ids = traffic.placed.filter((p) => p.at >= from && p.at < from + windowMs - 5_000).map((p) => p.id);
  const [e2e] = await sql<{ n: number; p50: number; p99: number }[]>`
    SELECT count(*)::int AS n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
    FROM (SELECT extract(epoch FROM h.occurred_at - o.created_at) * 1000 AS ms
          FROM orders o JOIN order_status_history h ON h.order_id = o.id AND h.to_status = 'shipped'
          WHERE o.id = ANY(${ids}::uuid[])) x`;
  return {
    n: o.n,
    post: stats(traffic.post),
    read: stats(traffic.reads),
    e2e: { n: e2e?.n ?? 0, p50: Number(e2e?.p50 ?? Number.NaN), p99: Number(e2e?.p99 ?? Number.NaN) },
    sample: o.sample,
  };
}
