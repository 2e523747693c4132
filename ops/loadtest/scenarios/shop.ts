/**
 * The customer's requests the scenarios mix (browse the catalogue, list and read orders, place, cancel),
 * the orders each user knows of, and the probe that learns the target's limits for each kind of request
 * before a pool is sized. Request bodies are what the tracking page sends.
 */
import { randomUUID } from 'node:crypto';
import type { Api } from '../api/client';
import { type Policy, parsePolicies } from '../api/limits';
import type { User } from '../api/users';
import type { HttpRequest } from '../engine/http';
import { randomItem } from './context';

export const PAYMENT = 'pm_card_visa';

export interface Product {
  sku: string;
  stock: number;
  active: boolean;
}

const auth = (u: User) => ({ authorization: `Bearer ${u.token}` });
const json = (u: User) => ({ ...auth(u), 'content-type': 'application/json' });

export const requests = {
  browseList: (u: User): HttpRequest => ({ method: 'GET', path: '/api/v1/products?limit=20', headers: auth(u) }),
  browseOne: (u: User, sku: string): HttpRequest => ({
    method: 'GET',
    path: `/api/v1/products/${encodeURIComponent(sku)}`,
    headers: auth(u),
  }),
  list: (u: User): HttpRequest => ({ method: 'GET', path: '/api/v1/orders?limit=20', headers: auth(u) }),
  read: (u: User, id: string): HttpRequest => ({ method: 'GET', path: `/api/v1/orders/${id}`, headers: auth(u) }),
  place: (u: User, sku: string, quantity: number, key: string = randomUUID()): HttpRequest => ({
    method: 'POST',
    path: '/api/v1/orders',
    headers: { ...json(u), 'idempotency-key': key },
    body: JSON.stringify({ items: [{ sku, quantity }], paymentMethodToken: PAYMENT }),
    wantBody: true,
  }),
  cancel: (u: User, id: string): HttpRequest => ({
    method: 'POST',
    path: `/api/v1/orders/${id}/cancel`,
    headers: json(u),
    body: JSON.stringify({ reason: 'load test: changed my mind' }),
  }),
};

/** The orders each user placed, newest last (a bounded ring per user). */
export class KnownOrders {
  private readonly byUser = new Map<string, string[]>();

  add(user: User, id: string): void {
    const list = this.byUser.get(user.userId) ?? [];
    list.push(id);
    if (list.length > 50) list.shift();
    this.byUser.set(user.userId, list);
  }

  any(user: User): string | undefined {
    const list = this.byUser.get(user.userId);
    return list && list.length > 0 ? randomItem(list) : undefined;
  }

  newest(user: User): string | undefined {
    return this.byUser.get(user.userId)?.at(-1);
  }
}

/** The id of a 201's order, when the answer is one. */
export function createdId(status: number, body: string): string | undefined {
  if (status !== 201) return undefined;
  try {
    return (JSON.parse(body) as { id?: string }).id;
  } catch {
    return undefined;
  }
}

/** The active products with stock to sell (the first page of the catalogue). */
export async function sellable(api: Api, user: User, minStock = 100): Promise<Product[]> {
  const page = await api.expect<{ items: Product[] }>(200, 'GET', '/api/v1/products?limit=100', { token: user.token });
  return page.items.filter((p) => p.active && p.stock >= minStock);
}

/** The limits announced for one request (RateLimit-Policy), and its answer. */
export async function probe(api: Api, req: HttpRequest): Promise<{ status: number; policies: Policy[]; body: unknown }> {
  const a = await api.call(req.method, req.path, {
    headers: req.headers,
    body: req.body === undefined ? undefined : JSON.parse(req.body),
  });
  return { status: a.status, policies: parsePolicies(a.headers.get('ratelimit-policy')), body: a.body };
}
