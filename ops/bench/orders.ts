/**
 * What the benches ask PostgreSQL about the orders they placed: when they have all settled, and how long
 * each took from its commit to `shipped` (both instants stamped by PostgreSQL, so no client clock is in it).
 */
import type postgres from 'postgres';

/** Polls until every given order is in a final state; resolves with how many are still open and how long it waited. */
export async function settle(sql: postgres.Sql, ids: string[], timeoutMs: number, everyMs = 100): Promise<{ open: number; ms: number }> {
  const t0 = Date.now();
  let open = ids.length;
  while (open > 0 && Date.now() - t0 < timeoutMs) {
    const [r] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM orders WHERE id = ANY(${ids}::uuid[]) AND status NOT IN ('shipped', 'cancelled', 'rejected', 'failed')`;
    open = r?.n ?? ids.length;
    if (open > 0) await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return { open, ms: Date.now() - t0 };
}

/** Placed → shipped of the given orders, in ms: how many shipped, p50, p99, max. */
export async function placedToShipped(sql: postgres.Sql, ids: string[]) {
  const [r] = await sql<{ n: number; p50: number; p99: number; max: number }[]>`
    SELECT count(*)::int AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max
    FROM (SELECT (extract(epoch FROM h.occurred_at - o.created_at) * 1000)::float8 AS ms
          FROM orders o JOIN order_status_history h ON h.order_id = o.id AND h.to_status = 'shipped'
          WHERE o.id = ANY(${ids}::uuid[])) t`;
  return { n: r?.n ?? 0, p50: r?.p50 ?? Number.NaN, p99: r?.p99 ?? Number.NaN, max: r?.max ?? Number.NaN };
}
