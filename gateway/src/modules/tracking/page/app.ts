/**
 * The tracking page: sign in (or create an account), the product list, placing an order, and every
 * order's status timeline kept live by the WebSocket feed. This file holds the page's state and flow;
 * pages/shared/api.ts talks to the REST API (errors are its problem+json `detail`), render.ts builds the DOM, feed.ts
 * keeps the socket. One request at a time per action.
 */
import type { StatusUpdate } from '@orders/contracts';
import { createApi } from '../../pages/shared/api';
import { bindSignInForm } from '../../pages/shared/signin';
import { OrderFeed } from './feed';
import type { HistoryEntry, Order, Product } from './model';
import { $, productRow, renderOrder, say, showFeedState } from './render';

const config = document.body.dataset;
const wsUrl = config.wsUrl || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/orders`;

const api = createApi({ sessionEnded: (reason) => signOut(reason) });
const orders = new Map<string, { order: Order; timeline: HistoryEntry[] }>();
let feed: OrderFeed | null = null;

// ── signing in ────────────────────────────────────────────────────────────────────────────────

function signOut(reason = 'Signed out.') {
  api.signOut();
  feed?.stop();
  feed = null;
  orders.clear();
  // Nothing of this user stays on the page for the next one.
  $('orders').replaceChildren();
  $('products').replaceChildren();
  $('no-orders').hidden = false;
  $('app').hidden = true;
  $('signin').hidden = false;
  say(reason);
}

// ── products and placing orders ───────────────────────────────────────────────────────────────

async function loadProducts() {
  const page = await api.call<{ items: Product[] }>('/api/v1/products?limit=100');
  const body = $('products');
  body.replaceChildren();
  for (const p of page.items) body.append(productRow(p, (quantity, button) => void placeOrder(p, quantity, button)));
}

async function placeOrder(p: Product, quantity: number, button: HTMLButtonElement) {
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > 10) return say('Choose a quantity from 1 to 10.', true);
  button.disabled = true;
  try {
    const order = await api.call<Order>('/api/v1/orders', {
      method: 'POST',
      // One key per click: a retried request cannot place the order twice.
      headers: { 'idempotency-key': crypto.randomUUID() },
      body: JSON.stringify({ items: [{ sku: p.sku, quantity }], paymentMethodToken: $<HTMLSelectElement>('payment').value }),
    });
    remember(order, [{ toStatus: order.status, reason: null, version: order.version, occurredAt: order.createdAt }]);
    say(`Order for ${quantity} × ${p.name} placed.`);
  } catch (err) {
    say((err as Error).message, true);
  } finally {
    button.disabled = false;
  }
}

// ── orders and their timelines ────────────────────────────────────────────────────────────────

function remember(order: Order, timeline: HistoryEntry[]) {
  const known = orders.get(order.id);
  if (known && known.order.version >= order.version) return;
  orders.set(order.id, { order, timeline });
  renderOrder(order, timeline);
}

async function fetchOrder(id: string) {
  const asked = api.signInNumber();
  const [order, history] = await Promise.all([
    api.call<Order>(`/api/v1/orders/${id}`),
    api.call<{ entries: HistoryEntry[] }>(`/api/v1/orders/${id}/history`),
  ]);
  if (api.signInNumber() !== asked) return; // a late answer for a session that ended
  remember(order, history.entries);
}

/** The present through REST: the first page of orders and their histories. */
async function loadOrders() {
  const page = await api.call<{ items: Order[] }>('/api/v1/orders?limit=20');
  await Promise.all(page.items.map((o) => fetchOrder(o.id)));
}

function applyUpdate(u: StatusUpdate) {
  const known = orders.get(u.orderId);
  if (!known) {
    void fetchOrder(u.orderId).catch((err) => say((err as Error).message, true));
    return;
  }
  if (u.version <= known.order.version) return; // REST already showed it
  if (u.version > known.order.version + 1) {
    // A step in between is still on its way (or was missed): REST has the whole history.
    void fetchOrder(u.orderId).catch((err) => say((err as Error).message, true));
    return;
  }
  known.order = { ...known.order, status: u.status, statusReason: u.reason, version: u.version };
  known.timeline.push({ toStatus: u.status, reason: u.reason, version: u.version, occurredAt: new Date(u.occurredAt).toISOString() });
  renderOrder(known.order, known.timeline);
  $('live-region').textContent = `Order ${u.orderId.slice(-8)} is now ${u.status}.`;
}

async function showApp() {
  const session = api.session();
  if (!session) return;
  $('signin').hidden = true;
  $('app').hidden = false;
  $('who').textContent = session.email;
  say('');
  feed?.stop();
  feed = new OrderFeed(wsUrl, {
    token: api.accessToken,
    update: applyUpdate,
    resync: () => void loadOrders().catch((err) => say((err as Error).message, true)),
    state: showFeedState,
  });
  feed.start();
  // The feed re-reads orders once it is live too (so nothing falls between this read and the socket).
  await Promise.all([loadProducts(), loadOrders()]).catch((err) => say((err as Error).message, true));
}

bindSignInForm(api, showApp);
$('signout').addEventListener('click', () => signOut());
if (api.session()) void showApp();
