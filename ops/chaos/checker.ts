/**
 * The invariant checker: compares what clients were told (the history) with what the system did (the
 * database, the payment provider's own record, the WebSocket transcripts, the webhook receivers' logs,
 * the DLQ topics), and returns one row per invariant with its counts. The invariants themselves are in
 * ./invariants, by what they look at; the rows come out in the order of the table.
 */
import type postgres from 'postgres';
import { answerInvariants } from './invariants/answers';
import { deliveryInvariants } from './invariants/deliveries';
import type { Evidence, History, OrderRow, Row } from './invariants/history';
import { leftoverInvariants } from './invariants/leftovers';
import { moneyInvariants } from './invariants/money';
import { orderInvariants } from './invariants/orders';

export type { History, Row } from './invariants/history';

export async function check(sql: postgres.Sql, h: History): Promise<Row[]> {
  const userIds = h.customers.map((c) => c.userId);
  const dbOrders = await sql<OrderRow[]>`
    SELECT id, status, user_id, total_cents::float8 AS total_cents FROM orders WHERE user_id IN ${sql(userIds)}`;
  const evidence: Evidence = { sql, h, userIds, dbOrders, byId: new Map(dbOrders.map((o) => [o.id, o])) };
  return [
    ...orderInvariants(evidence),
    ...(await moneyInvariants(evidence)),
    ...(await deliveryInvariants(evidence)),
    ...(await leftoverInvariants(evidence)),
    ...answerInvariants(evidence),
  ];
}
