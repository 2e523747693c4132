import { beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { suiteGateway } from './support';

const gw = suiteGateway();
let admin: { accessToken: string };
let customer: { accessToken: string };

beforeAll(async () => {
  admin = await gw.user('admin');
  customer = await gw.user();
});

const newSku = () => `T-${randomUUID().slice(0, 8).toUpperCase()}`;

describe('products', () => {
  test('customers read the catalogue page by page; only admins create and change products', async () => {
    const first = await gw.call('GET', '/api/v1/products?limit=3', { token: customer.accessToken });
    expect(first.status).toBe(200);
    const items = first.json.items as { sku: string }[];
    expect(items.length).toBe(3);
    const next = await gw.call('GET', `/api/v1/products?limit=3&cursor=${first.json.nextCursor}`, { token: customer.accessToken });
    expect(((next.json.items as { sku: string }[])[0]?.sku ?? '') > (items[2]?.sku ?? '')).toBe(true);
    expect((await gw.call('GET', '/api/v1/products/MUG-BLUE', { token: customer.accessToken })).json).toMatchObject({
      sku: 'MUG-BLUE',
      priceCents: 1299,
    });
    const body = { sku: newSku(), name: 'Test', priceCents: 100, currency: 'EUR', stock: 5 };
    expect((await gw.call('POST', '/api/v1/products', { token: customer.accessToken, body })).json.code).toBe('AUTH_FORBIDDEN');
    expect((await gw.call('PATCH', '/api/v1/products/MUG-BLUE', { token: customer.accessToken, body: { priceCents: 1 } })).status).toBe(
      403,
    );
    expect((await gw.call('GET', '/api/v1/products')).status).toBe(401);
  });

  test('admins create (409 on a taken SKU), update price and stock (404 for unknown), and new orders use the new price', async () => {
    const sku = newSku();
    const created = await gw.call('POST', '/api/v1/products', {
      token: admin.accessToken,
      body: { sku, name: 'Lamp', priceCents: 1000, currency: 'EUR', stock: 10 },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/api/v1/products/${sku}`);
    const again = await gw.call('POST', '/api/v1/products', {
      token: admin.accessToken,
      body: { sku, name: 'Lamp', priceCents: 1000, currency: 'EUR', stock: 10 },
    });
    expect([again.status, again.json.code]).toEqual([409, 'PRODUCTS_SKU_TAKEN']);
    const order1 = await gw.call('POST', '/api/v1/orders', { token: customer.accessToken, body: { items: [{ sku, quantity: 1 }] } });
    expect(order1.json.totalCents).toBe(1000);
    const patched = await gw.call('PATCH', `/api/v1/products/${sku}`, { token: admin.accessToken, body: { priceCents: 1500, stock: 3 } });
    expect(patched.json).toMatchObject({ priceCents: 1500, stock: 3, name: 'Lamp' });
    const order2 = await gw.call('POST', '/api/v1/orders', { token: customer.accessToken, body: { items: [{ sku, quantity: 2 }] } });
    expect(order2.json.totalCents).toBe(3000);
    expect((await gw.call('PATCH', '/api/v1/products/NO-SUCH-SKU', { token: admin.accessToken, body: { stock: 1 } })).json.code).toBe(
      'PRODUCTS_NOT_FOUND',
    );
    expect((await gw.call('PATCH', `/api/v1/products/${sku}`, { token: admin.accessToken, body: {} })).status).toBe(400);
    expect((await gw.call('PATCH', `/api/v1/products/${sku}`, { token: admin.accessToken, body: { priceCents: -1 } })).status).toBe(400);
  });

  test('a withdrawn product disappears for customers and cannot be ordered', async () => {
    const sku = newSku();
    await gw.call('POST', '/api/v1/products', {
      token: admin.accessToken,
      body: { sku, name: 'Old', priceCents: 10, currency: 'EUR', stock: 1 },
    });
    await gw.call('PATCH', `/api/v1/products/${sku}`, { token: admin.accessToken, body: { active: false } });
    expect((await gw.call('GET', `/api/v1/products/${sku}`, { token: customer.accessToken })).status).toBe(404);
    expect((await gw.call('GET', `/api/v1/products/${sku}`, { token: admin.accessToken })).status).toBe(200);
    const order = await gw.call('POST', '/api/v1/orders', { token: customer.accessToken, body: { items: [{ sku, quantity: 1 }] } });
    expect([order.status, order.json.code]).toEqual([422, 'ORDERS_UNKNOWN_SKU']);
  });
});
