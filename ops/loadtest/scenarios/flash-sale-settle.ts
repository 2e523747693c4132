/**
 * After a flash sale: waits until the pipeline has decided every sale order (shipped, failed for want of
 * stock, …), reading them through the admin API, then takes each SKU's stock and sets it against the units
 * of the orders that hold a reservation (reserved or shipped).
 */
import type { Api } from '../api/client';
import type { Table } from '../report/model';

export interface SaleOrder {
  id: string;
  sku: string;
  quantity: number;
}

export interface SkuOutcome {
  sku: string;
  ordersTaken: number;
  unitsOrdered: number;
  shipped: number;
  reserved: number;
  outOfStock: number;
  otherFailed: number;
  cancelled: number;
  inPipeline: number;
  /** Units in reserved or shipped orders. */
  sold: number;
  stockLeft: number | null;
}

export interface Settled {
  perSku: SkuOutcome[];
  unsettled: number;
  reasons: Record<string, number>;
  table: Table;
}

const FINAL = new Set(['shipped', 'cancelled', 'rejected', 'failed']);

interface OrderRow {
  id: string;
  status: string;
  statusReason: string | null;
}

export async function stockOf(api: Api, token: string, sku: string): Promise<number | null> {
  const a = await api.call<{ stock?: number }>('GET', `/api/v1/products/${sku}`, { token }).catch(() => null);
  return a?.status === 200 && typeof a.body.stock === 'number' ? a.body.stock : null;
}

/** Every order of the admin listing created since `since` (bounded: 200 pages of 100). */
async function listSince(api: Api, token: string, since: string): Promise<Map<string, OrderRow>> {
  const rows = new Map<string, OrderRow>();
  let cursor: string | null = null;
  for (let page = 0; page < 200; page++) {
    const q: string = `createdFrom=${encodeURIComponent(since)}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const body: { items: OrderRow[]; nextCursor: string | null } = await api.expect<{ items: OrderRow[]; nextCursor: string | null }>(
      200,
      'GET',
      `/api/v1/admin/orders?${q}`,
      { token },
    );
    for (const o of body.items) rows.set(o.id, o);
    cursor = body.nextCursor;
    if (!cursor) break;
  }
  return rows;
}

export async function settle(
  api: Api,
  token: string,
  orders: SaleOrder[],
  skus: string[],
  since: string,
  timeoutMs: number,
): Promise<Settled> {
  const deadline = Date.now() + timeoutMs;
  let rows = new Map<string, OrderRow>();
  for (;;) {
    rows = await listSince(api, token, since);
    const open = orders.filter((o) => !FINAL.has(rows.get(o.id)?.status ?? 'pending')).length;
    if (open === 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  // The catalogue is cached for up to a second: read the stock once that has passed.
  await new Promise((r) => setTimeout(r, 1200));
  const reasons: Record<string, number> = {};
  const perSku: SkuOutcome[] = [];
  let unsettled = 0;
  for (const sku of skus) {
    const mine = orders.filter((o) => o.sku === sku);
    const out: SkuOutcome = {
      sku,
      ordersTaken: mine.length,
      unitsOrdered: mine.reduce((n, o) => n + o.quantity, 0),
      shipped: 0,
      reserved: 0,
      outOfStock: 0,
      otherFailed: 0,
      cancelled: 0,
      inPipeline: 0,
      sold: 0,
      stockLeft: await stockOf(api, token, sku),
    };
    for (const o of mine) {
      const row = rows.get(o.id);
      const status = row?.status ?? 'pending';
      if (row?.statusReason) {
        const code = row.statusReason.split(':')[0] as string;
        reasons[code] = (reasons[code] ?? 0) + 1;
      }
      if (status === 'shipped' || status === 'reserved') {
        out.sold += o.quantity;
        if (status === 'shipped') out.shipped++;
        else out.reserved++;
      } else if (status === 'cancelled') out.cancelled++;
      else if (status === 'failed' && /^out of stock/.test(row?.statusReason ?? '')) out.outOfStock++;
      else if (status === 'failed' || status === 'rejected') out.otherFailed++;
      if (!FINAL.has(status)) {
        out.inPipeline++;
        unsettled++;
      }
    }
    perSku.push(out);
  }
  const columns = [
    'SKU',
    'orders taken',
    'units ordered',
    'shipped',
    'reserved',
    'out of stock',
    'other failed',
    'cancelled',
    'in pipeline',
    'units sold',
    'stock left',
  ];
  const table: Table = {
    id: 'sale',
    title: 'The sale, per SKU, once settled',
    columns,
    rows: perSku.map((r) => [
      r.sku,
      r.ordersTaken,
      r.unitsOrdered,
      r.shipped,
      r.reserved,
      r.outOfStock,
      r.otherFailed,
      r.cancelled,
      r.inPipeline,
      r.sold,
      r.stockLeft,
    ]),
  };
  return { perSku, unsettled, reasons, table };
}
