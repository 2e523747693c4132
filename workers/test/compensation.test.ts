/**
 * Cancellations at each stage before shipment run the right compensations and end in `cancelled`.
 * Fulfillment is not running here, so an order can be held at `reserved` and cancelled there
 * deterministically (with fulfillment running it could ship first, which the gateway then refuses to
 * cancel).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Events } from '@orders/contracts';
import { samplePayloads } from '@orders/contracts/testing/samples';
import { type Fixture, fixture, uuidv7 } from './support';

let f: Fixture;

before(async () => {
  // pm_slow's first charge attempt hangs past this timeout and goes to the retry topic.
  f = await fixture({ stages: ['validator', 'payment', 'inventory', 'projector'], providerTimeoutMs: 1_000 });
});

after(async () => {
  await f.close();
});

async function status(orderId: string) {
  const [o] = await f.sql<{ status: string }[]>`SELECT status FROM orders WHERE id = ${orderId}`;
  return o?.status;
}

async function place(s: Awaited<ReturnType<Fixture['seedOrder']>>) {
  await f.produce(
    s.orderId,
    f.codec.encode(Events.OrderPlaced, {
      ...samplePayloads['order.placed'],
      eventId: uuidv7(),
      orderId: s.orderId,
      userId: s.userId,
      items: s.items,
      totalCents: s.totalCents,
    }),
  );
}

describe('cancellation compensations', () => {
  it('cancelled once reserved: refunds the charge, returns the stock, ends cancelled', async () => {
    const sku = `CXL-${uuidv7().slice(-8).toUpperCase()}`;
    await f.sql`INSERT INTO products (sku, name, price_cents, currency, stock) VALUES (${sku}, 'Lamp', 700, 'EUR', 10)`;
    const s = await f.seedOrder('pending', { sku, quantity: 3, unitPriceCents: 700 });
    await place(s);
    await f.waitFor(async () => (await status(s.orderId)) === 'reserved', 20_000);
    const [{ stock: during } = { stock: -1 }] = await f.sql<{ stock: number }[]>`SELECT stock FROM products WHERE sku = ${sku}`;
    assert.equal(during, 7);
    await f.cancel(s.orderId, s.userId);
    await f.waitFor(async () => {
      const [r] = await f.sql`SELECT status FROM reservations WHERE order_id = ${s.orderId}`;
      const [p] = await f.sql`SELECT status FROM payments WHERE order_id = ${s.orderId}`;
      return r?.status === 'released' && p?.status === 'refunded';
    }, 20_000);
    const [{ stock: afterwards } = { stock: -1 }] = await f.sql<{ stock: number }[]>`SELECT stock FROM products WHERE sku = ${sku}`;
    assert.equal(afterwards, 10);
    const [charge] = await f.charges(s.orderId);
    assert.equal(charge?.refunded, 2100);
    assert.equal(await status(s.orderId), 'cancelled');
  });

  it('cancelled while the charge is being retried: never charged, nothing reserved, ends cancelled', async () => {
    const s = await f.seedOrder('pending', { token: 'pm_slow_issuer' });
    await place(s);
    await f.waitFor(async () => (await status(s.orderId)) === 'validated', 20_000);
    // The first charge attempt hangs past the client timeout and goes to the retry topic; cancel meanwhile.
    await f.cancel(s.orderId, s.userId);
    // The retry comes after the timeout and its backoff; by then the order is cancelled and not charged.
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal((await f.charges(s.orderId)).length, 0, 'never charged');
    assert.equal((await f.sql`SELECT 1 FROM payments WHERE order_id = ${s.orderId}`).length, 0);
    assert.equal((await f.sql`SELECT 1 FROM reservations WHERE order_id = ${s.orderId}`).length, 0);
    assert.equal(await status(s.orderId), 'cancelled');
  });
});
