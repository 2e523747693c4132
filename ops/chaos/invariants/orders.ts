/**
 * The orders themselves: every acknowledged one exists once, none exists that no client asked for, and
 * every one reached a terminal state within the bound after the last fault.
 */
import { TERMINAL_STATUSES } from '@orders/contracts';
import { type Evidence, type Row, row } from './history';

/** Rows 1–2 of the table: the orders exist as the clients were told, and all of them ended. */
export function orderInvariants({ h, dbOrders, byId }: Evidence): Row[] {
  const rows: Row[] = [];
  // 1. Every acknowledged order exists once; a key never named two orders; nothing exists that no client asked for.
  const acked = h.ops.filter((o) => o.orderId);
  const ids = acked.map((o) => o.orderId as string);
  const splitKeys = h.ops.filter((o) => o.ids.size > 1).length;
  const missing = ids.filter((id) => !byId.has(id)).length;
  const unanswered = h.ops.filter((o) => !o.orderId && o.refused === undefined).length;
  const known = new Set(ids);
  const phantom = dbOrders.filter((o) => !known.has(o.id)).length;
  rows.push(
    row(
      'every acknowledged order exists, once',
      missing === 0 && splitKeys === 0,
      `${acked.length} acknowledged of ${h.ops.length} placed (${h.ops.filter((o) => o.refused !== undefined).length} refused, ${unanswered} never answered after retries); ${missing} missing; ${splitKeys} keys naming two orders`,
    ),
  );
  rows.push(
    row(
      'no order the clients were not told about',
      phantom <= unanswered,
      `${phantom} orders in the database without an acknowledgement (allowed: up to the ${unanswered} requests whose answer never came)`,
    ),
  );

  // 2. Terminal within the bound after the faults stopped.
  const open = dbOrders.filter((o) => !TERMINAL_STATUSES.includes(o.status as never));
  const statusCount = new Map<string, number>();
  for (const o of dbOrders) statusCount.set(o.status, (statusCount.get(o.status) ?? 0) + 1);
  rows.push(
    row(
      `every order reaches a terminal state within ${h.drainBoundMs / 1000} s of the last fault`,
      open.length === 0 && h.drainMs !== undefined,
      `${open.length} not terminal; ${h.drainMs === undefined ? 'not drained' : `drained ${(h.drainMs / 1000).toFixed(1)} s after the last heal`}; ${[
        ...statusCount,
      ]
        .map(([s, n]) => `${s} ${n}`)
        .join(', ')}`,
    ),
  );
  return rows;
}
