import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sampleStatusUpdate } from '@orders/contracts/testing/samples';
import { createRedis, feedKeys } from '@orders/platform';
import { eventually } from '@orders/platform/testing';
import { invalidationChannel } from '../src/modules/orders/cache';
import { suiteGateway } from './support';

const gw = suiteGateway({ ORDER_CACHE_TTL_MS: '60000' });
const redis = createRedis({ url: process.env.REDIS_URL as string, connectionName: 'cache-test' });

beforeAll(async () => {
  // The invalidation subscription is up once an invalidation published now reaches the cache (one sent
  // before it was would be lost: published again on every probe).
  const { u, id } = await placed();
  await gw.sql`UPDATE orders SET version = 2 WHERE id = ${id}`;
  await eventually(
    async () => {
      await redis.publish(invalidationChannel(gw.env.NAMESPACE), `${id} 2`);
      return (await gw.call('GET', `/api/v1/orders/${id}`, { token: u.accessToken })).json.version === 2;
    },
    { what: 'the cache invalidation subscription' },
  );
});

afterAll(async () => {
  await redis.quit();
});

async function placed() {
  const u = await gw.user();
  const r = await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body: { items: [{ sku: 'MUG-BLUE', quantity: 1 }] } });
  return { u, id: String(r.json.id) };
}

describe('the order read cache', () => {
  test('serves reads from memory, still only to the owner (or an admin)', async () => {
    const { u, id } = await placed();
    await gw.sql`UPDATE orders SET status_reason = 'changed behind the cache' WHERE id = ${id}`;
    const read = await gw.call('GET', `/api/v1/orders/${id}`, { token: u.accessToken });
    expect(read.json.statusReason).toBeNull();
    const fresh = await gw.call('GET', `/api/v1/orders/${id}`, { token: u.accessToken, headers: { 'cache-control': 'no-cache' } });
    expect(fresh.json.statusReason).toBe('changed behind the cache');
    const other = await gw.user();
    expect((await gw.call('GET', `/api/v1/orders/${id}`, { token: other.accessToken })).status).toBe(404);
    expect((await gw.call('GET', `/api/v1/orders/${id}`, { token: (await gw.user('admin')).accessToken })).status).toBe(200);
  });

  test('drops an order when the live feed announces a newer version of it', async () => {
    const { u, id } = await placed();
    await gw.call('GET', `/api/v1/orders/${id}`, { token: u.accessToken });
    await gw.sql`UPDATE orders SET status = 'validated', version = 2 WHERE id = ${id}`;
    await redis.publish(
      feedKeys(gw.env.NAMESPACE).channel,
      JSON.stringify({ ...sampleStatusUpdate(u.userId, 1), orderId: id, version: 2 }),
    );
    await eventually(async () => (await gw.call('GET', `/api/v1/orders/${id}`, { token: u.accessToken })).json.status === 'validated', {
      what: 'the live feed’s update to drop the cached order',
    });
    expect((await gw.call('GET', `/api/v1/orders/${id}`, { token: u.accessToken })).json).toMatchObject({
      status: 'validated',
      version: 2,
    });
  });

  test('serves a changed order at once after this instance changed it (PATCH, cancel)', async () => {
    const { u, id } = await placed();
    await gw.call('GET', `/api/v1/orders/${id}`, { token: u.accessToken });
    const patched = await gw.call('PATCH', `/api/v1/orders/${id}`, {
      token: u.accessToken,
      body: { items: [{ sku: 'MUG-BLUE', quantity: 3 }] },
      headers: { 'if-match': '"1"' },
    });
    expect(patched.status).toBe(200);
    const read = await gw.call('GET', `/api/v1/orders/${id}`, { token: u.accessToken });
    expect(read.json).toMatchObject({ version: 2, items: [{ sku: 'MUG-BLUE', quantity: 3 }] });
    expect(read.headers.get('etag')).toBe('"2"');
  });

  test('drops an order another gateway instance changed, and serves this instance’s own writes at once', async () => {
    const { u, id } = await placed();
    await gw.call('GET', `/api/v1/orders/${id}`, { token: u.accessToken });
    await gw.sql`UPDATE orders SET status_reason = 'by another instance', version = 2 WHERE id = ${id}`;
    await redis.publish(invalidationChannel(gw.env.NAMESPACE), `${id} 2`);
    await eventually(async () => (await gw.call('GET', `/api/v1/orders/${id}`, { token: u.accessToken })).json.version === 2, {
      what: 'the other instance’s invalidation to drop the cached order',
    });
    expect((await gw.call('GET', `/api/v1/orders/${id}`, { token: u.accessToken })).json.statusReason).toBe('by another instance');
    const cancelled = await gw.call('POST', `/api/v1/orders/${id}/cancel`, { token: u.accessToken, body: {} });
    expect(cancelled.json.version).toBe(3);
    expect((await gw.call('GET', `/api/v1/orders/${id}`, { token: u.accessToken })).json).toMatchObject({
      status: 'cancelled',
      version: 3,
    });
  });
});
