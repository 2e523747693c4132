/**
 * Money and stock: no order charged twice, every charge belongs to an order, what did not ship was
 * refunded (from the payment provider's own record), and stock moved by exactly what shipped.
 */
import { urls } from '../stack';
import { type Evidence, type Row, row } from './history';

interface Charge {
  id: string;
  amount: number;
  reference: string;
  refunded: number;
}

/** Rows 3–4 of the table: charges and refunds against the provider's record, then stock. */
export async function moneyInvariants({ sql, h, userIds, dbOrders, byId }: Evidence): Promise<Row[]> {
  const rows: Row[] = [];
  // 3. Money: no order charged twice; every charge belongs to an order; what did not ship was refunded.
  const charges = ((await (await fetch(`${urls.provider}/v1/charges`)).json()) as { data: Charge[] }).data.filter((c) =>
    byId.has(c.reference),
  );
  const perOrder = new Map<string, Charge[]>();
  for (const c of charges) perOrder.set(c.reference, [...(perOrder.get(c.reference) ?? []), c]);
  const twice = [...perOrder.values()].filter((cs) => cs.length > 1).length;
  rows.push(
    row(
      'no order charged twice',
      twice === 0,
      `${charges.length} charges for ${perOrder.size} orders; ${twice} orders charged more than once`,
    ),
  );
  let notRefunded = 0;
  let refundedShipped = 0;
  let shippedUncharged = 0;
  for (const o of dbOrders) {
    const cs = perOrder.get(o.id) ?? [];
    const kept = cs.reduce((s, c) => s + c.amount - c.refunded, 0);
    if (o.status === 'shipped') {
      if (cs.length === 0) shippedUncharged++;
      else if (kept !== o.total_cents) refundedShipped++;
    } else if (kept !== 0) notRefunded++;
  }
  rows.push(
    row(
      'every paid order that did not ship is refunded; shipped ones keep their charge',
      notRefunded === 0 && refundedShipped === 0 && shippedUncharged === 0,
      `${notRefunded} unshipped orders still charged; ${refundedShipped} shipped orders not charged their total; ${shippedUncharged} shipped without a charge`,
    ),
  );

  // 4. Stock moved by exactly what shipped.
  const skus = [...h.stockBefore.keys()];
  const stock = await sql<{ sku: string; stock: number }[]>`SELECT sku, stock FROM products WHERE sku IN ${sql(skus)}`;
  const shippedQty = await sql<{ sku: string; q: number }[]>`
    SELECT i.sku, sum(i.quantity)::int AS q FROM order_items i JOIN orders o ON o.id = i.order_id
    WHERE o.status = 'shipped' AND i.sku IN ${sql(skus)} GROUP BY i.sku`;
  const off = stock
    .map((s) => ({
      sku: s.sku,
      moved: (h.stockBefore.get(s.sku) ?? 0) - s.stock,
      shipped: shippedQty.find((q) => q.sku === s.sku)?.q ?? 0,
    }))
    .filter((s) => s.moved !== s.shipped);
  const held = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM reservations r JOIN orders o ON o.id = r.order_id
    WHERE o.status <> 'shipped' AND r.status = 'reserved' AND o.user_id IN ${sql(userIds)}`.catch(() => [{ n: -1 }]);
  rows.push(
    row(
      'stock moved by exactly what shipped',
      off.length === 0 && (held[0]?.n ?? 0) <= 0,
      off.length === 0
        ? `${skus.length} SKUs: moved = shipped${(held[0]?.n ?? 0) < 0 ? '' : `; ${held[0]?.n} reservations still held by unshipped orders`}`
        : off.map((o) => `${o.sku} moved ${o.moved}, shipped ${o.shipped}`).join('; '),
    ),
  );
  return rows;
}
