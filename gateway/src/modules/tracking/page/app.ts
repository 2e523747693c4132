/**
 * The tracking page: sign in (or create an account), the product list, placing an order, and every
 * order's status timeline kept live by the WebSocket feed. Plain DOM, text only (never innerHTML with
 * data), one request at a time per action; errors are the API's problem+json `detail`.
 */
import type { StatusUpdate } from '@orders/contracts';
import { type FeedState, OrderFeed } from './feed';

interface Session {
  email: string;
  accessToken: string;
  refreshToken: string;
  /** Epoch ms at which the access token expires. */
  expiresAt: number;
}
interface Product {
  sku: string;
  name: string;
  priceCents: number;
  currency: string;
  stock: number;
}
interface Order {
  id: string;
  status: string;
  statusReason: string | null;
  totalCents: number;
  currency: string;
  version: number;
  createdAt: string;
  items: { sku: string; quantity: number }[];
}
interface HistoryEntry {
  toStatus: string;
  reason: string | null;
  version: number;
  occurredAt: string;
}

const FINAL = new Set(['shipped', 'cancelled', 'rejected', 'failed']);
const SESSION_KEY = 'orders.session';
const config = document.body.dataset;
const wsUrl = config.wsUrl || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/orders`;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const el = <K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
};
const money = (cents: number, currency: string) => new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(cents / 100);
const time = (iso: string | number) => new Date(iso).toLocaleTimeString();

let session: Session | null = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
const orders = new Map<string, { order: Order; timeline: HistoryEntry[] }>();
let feed: OrderFeed | null = null;

function saveSession(s: Session | null) {
  session = s;
  if (s) sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(SESSION_KEY);
}

class ApiError extends Error {}

async function problem(res: Response): Promise<ApiError> {
  const body = await res.json().catch(() => ({}));
  return new ApiError(body.detail ?? body.title ?? `${res.status} ${res.statusText}`);
}

/** Login and refresh both answer with a token pair. */
function storePair(email: string, pair: { accessToken: string; refreshToken: string; expiresIn: number }) {
  saveSession({ email, accessToken: pair.accessToken, refreshToken: pair.refreshToken, expiresAt: Date.now() + pair.expiresIn * 1000 });
}

let refreshing: Promise<string> | null = null;
/** A fresh access token through the rotating refresh token; one refresh at a time. */
function refresh(): Promise<string> {
  refreshing ??= (async () => {
    const s = session;
    if (!s) throw new ApiError('signed out');
    const res = await fetch('/api/v1/auth/refresh', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: s.refreshToken }),
    });
    // Signed out (or in as someone else) meanwhile: this answer belongs to nobody now.
    if (session !== s) throw new ApiError('signed out');
    if (!res.ok) {
      // Only a refused token ends the session; a 429 or a 503 during a deploy is tried again later.
      if (res.status === 400 || res.status === 401 || res.status === 403) signOut('Your session ended; sign in again.');
      throw await problem(res);
    }
    const pair = await res.json();
    if (session !== s) throw new ApiError('signed out');
    storePair(s.email, pair);
    return (session as Session | null)?.accessToken ?? '';
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function accessToken(fresh: boolean): Promise<string> {
  if (!session) throw new ApiError('signed out');
  if (fresh || session.expiresAt - Date.now() < 30_000) return refresh();
  return session.accessToken;
}

async function api<T>(path: string, init: RequestInit = {}, retried = false): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${await accessToken(false)}`);
  if (init.body) headers.set('content-type', 'application/json');
  const res = await fetch(path, { ...init, headers });
  if (res.status === 401 && !retried) {
    await refresh();
    return api(path, init, true);
  }
  if (!res.ok) throw await problem(res);
  return res.json() as Promise<T>;
}

function say(text: string, isError = false) {
  const status = $('notice');
  status.textContent = text;
  status.classList.toggle('error', isError);
}

// ── signing in ────────────────────────────────────────────────────────────────────────────────

async function signIn(create: boolean) {
  const email = $<HTMLInputElement>('email').value.trim();
  const password = $<HTMLInputElement>('password').value;
  const post = (path: string) =>
    fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  try {
    if (create) {
      const res = await post('/api/v1/auth/register');
      if (!res.ok) throw await problem(res);
    }
    const res = await post('/api/v1/auth/login');
    if (!res.ok) throw await problem(res);
    storePair(email, await res.json());
    $<HTMLInputElement>('password').value = '';
    await showApp();
  } catch (err) {
    say((err as Error).message, true);
  }
}

function signOut(reason = 'Signed out.') {
  const s = session;
  if (s)
    void fetch('/api/v1/auth/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: s.refreshToken }),
    });
  saveSession(null);
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
  const page = await api<{ items: Product[] }>('/api/v1/products?limit=100');
  const body = $('products');
  body.replaceChildren();
  for (const p of page.items) {
    const row = el('tr');
    row.dataset.sku = p.sku;
    row.append(el('td', p.name), el('td', money(p.priceCents, p.currency), 'num'), el('td', String(p.stock), 'num'));
    const qty = el('input');
    Object.assign(qty, { type: 'number', min: '1', max: '10', value: '1', required: true });
    qty.setAttribute('aria-label', `Quantity of ${p.name}`);
    const order = el('button', 'Order');
    order.setAttribute('aria-label', `Order ${p.name}`);
    order.disabled = p.stock < 1;
    order.addEventListener('click', () => void placeOrder(p, Number(qty.value), order));
    const cell = el('td');
    cell.append(qty, order);
    row.append(cell);
    body.append(row);
  }
}

async function placeOrder(p: Product, quantity: number, button: HTMLButtonElement) {
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > 10) return say('Choose a quantity from 1 to 10.', true);
  button.disabled = true;
  try {
    const order = await api<Order>('/api/v1/orders', {
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
  render(order.id);
}

async function fetchOrder(id: string) {
  const asked = session;
  const [order, history] = await Promise.all([
    api<Order>(`/api/v1/orders/${id}`),
    api<{ entries: HistoryEntry[] }>(`/api/v1/orders/${id}/history`),
  ]);
  if (session !== asked) return; // a late answer for a session that ended
  remember(order, history.entries);
}

/** The present through REST: the first page of orders and their histories. */
async function loadOrders() {
  const page = await api<{ items: Order[] }>('/api/v1/orders?limit=20');
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
  render(u.orderId);
  $('live-region').textContent = `Order ${u.orderId.slice(-8)} is now ${u.status}.`;
}

function render(id: string) {
  const entry = orders.get(id);
  if (!entry) return;
  const { order, timeline } = entry;
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

function showFeedState(state: FeedState, detail: string) {
  const indicator = $('feed-state');
  indicator.dataset.state = state;
  indicator.textContent = detail;
}

async function showApp() {
  if (!session) return;
  $('signin').hidden = true;
  $('app').hidden = false;
  $('who').textContent = session.email;
  say('');
  feed?.stop();
  feed = new OrderFeed(wsUrl, {
    token: accessToken,
    update: applyUpdate,
    resync: () => void loadOrders().catch((err) => say((err as Error).message, true)),
    state: showFeedState,
  });
  feed.start();
  // The feed re-reads orders once it is live too (so nothing falls between this read and the socket).
  await Promise.all([loadProducts(), loadOrders()]).catch((err) => say((err as Error).message, true));
}

$('signin').addEventListener('submit', (e) => {
  e.preventDefault();
  const create = (e as SubmitEvent).submitter?.id === 'create';
  void signIn(create);
});
$('signout').addEventListener('click', () => signOut());
if (session) void showApp();
