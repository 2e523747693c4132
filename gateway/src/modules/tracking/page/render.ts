/**
 * The tracking page's DOM building: a product's row, an order's item with its status timeline, the
 * feed indicator and the notice line. Text only (textContent, never innerHTML with data); no state and
 * no requests here.
 */

import { $, el, money, time } from '../../pages/shared/dom';
import type { FeedState } from './feed';
import type { HistoryEntry, Order, Product } from './model';

export { $, say } from '../../pages/shared/dom';

const FINAL = new Set(['shipped', 'cancelled', 'rejected', 'failed']);

export function showFeedState(state: FeedState, detail: string) {
  const indicator = $('feed-state');
  indicator.dataset.state = state;
  indicator.textContent = detail;
}

/** A product's row; `order` is called with the chosen quantity and the button (disabled while it runs). */
export function productRow(p: Product, order: (quantity: number, button: HTMLButtonElement) => void): HTMLTableRowElement {
  const row = el('tr');
  row.dataset.sku = p.sku;
  row.append(el('td', p.name), el('td', money(p.priceCents, p.currency), 'num'), el('td', String(p.stock), 'num'));
  const qty = el('input');
  Object.assign(qty, { type: 'number', min: '1', max: '10', value: '1', required: true });
  qty.setAttribute('aria-label', `Quantity of ${p.name}`);
  const button = el('button', 'Order');
  button.setAttribute('aria-label', `Order ${p.name}`);
  button.disabled = p.stock < 1;
  button.addEventListener('click', () => order(Number(qty.value), button));
  const cell = el('td');
  cell.append(qty, button);
  row.append(cell);
  return row;
}

/** Draws (or redraws in place) an order's item in the list: its lines, total, status and timeline. */
export function renderOrder(order: Order, timeline: HistoryEntry[]) {
  const id = order.id;
  const list = $('orders');
  let item = list.querySelector<HTMLElement>(`li[data-order-id="${CSS.escape(id)}"]`);
  if (!item) {
    item = el('li', undefined, 'order');
    item.dataset.orderId = id;
    list.prepend(item);
    $('no-orders').hidden = true;
  }
  item.dataset.status = order.status;
  const head = el('div', undefined, 'order-head');
  const badge = el('span', order.status, `badge ${order.status}`);
  const lines = order.items.map((l) => `${l.quantity} × ${l.sku}`).join(', ');
  head.append(el('strong', `#${id.slice(-8)}`), el('span', lines), el('span', money(order.totalCents, order.currency)), badge);
  const steps = el('ol', undefined, 'timeline');
  steps.setAttribute('aria-label', `Status timeline of order ${id.slice(-8)}`);
  for (const t of [...timeline].sort((a, b) => a.version - b.version)) {
    const step = el('li', `${t.toStatus} · ${time(t.occurredAt)}${t.reason ? ` · ${t.reason}` : ''}`);
    step.dataset.status = t.toStatus;
    steps.append(step);
  }
  item.replaceChildren(head, steps);
  item.classList.toggle('final', FINAL.has(order.status));
}
