/**
 * Cancellations at each stage before shipment run the right compensations and end in `cancelled`.
 * Fulfillment is not running here, so an order can be held at `reserved` and cancelled there
 * deterministically (with fulfillment running it could ship first, which the gateway then refuses to
 * cancel).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConsumerGroups } from '@orders/contracts';
import { eventually } from '@orders/platform/testing';
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

describe('cancellation compensations', () => {
  it('cancelled once reserved: refunds the charge, returns the stock, ends cancelled', async () => {
    const sku = `CXL-${uuidv7().slice(-8).toUpperCase()}`;
    await f.sql`INSERT INTO products (sku, name, price_cents, currency, stock) VALUES (${sku}, 'Lamp', 700, 'EUR', 10)`;
    const s = await f.seedOrder('pending', { sku, quantity: 3, unitPriceCents: 700 });
    await f.place(s);
    await eventually(async () => (await status(s.orderId)) === 'reserved', { what: 'the order reserved', timeoutMs: 20_000 });
    const [{ stock: during } = { stock: -1 }] = await f.sql<{ stock: number }[]>`SELECT stock FROM products WHERE sku = ${sku}`;
    assert.equal(during, 7);
    await f.cancel(s.orderId, s.userId);
    await eventually(
      async () => {
        const [r] = await f.sql`SELECT status FROM reservations WHERE order_id = ${s.orderId}`;
        const [p] = await f.sql`SELECT status FROM payments WHERE order_id = ${s.orderId}`;
        return r?.status === 'released' && p?.status === 'refunded';
      },
      { what: 'the stock released and the charge refunded', timeoutMs: 20_000 },
    );
    const [{ stock: afterwards } = { stock: -1 }] = await f.sql<{ stock: number }[]>`SELECT stock FROM products WHERE sku = ${sku}`;
    assert.equal(afterwards, 10);
    const [charge] = await f.charges(s.orderId);
    assert.equal(charge?.refunded, 2100);
    assert.equal(await status(s.orderId), 'cancelled');
  });

  it('cancelled while the charge is being retried: the retry sees the cancellation, never charged, nothing reserved', async () => {
    const s = await f.seedOrder('pending', { token: 'pm_slow_issuer' });
    await f.place(s);
    // The verdict the payment stage acts on.
    const validated = await eventually(
      async () => {
        const [r] = await f.sql<{ id: string }[]>`
          SELECT outputs->0->'payload'->>'eventId' AS id FROM processed_events
          WHERE consumer_group = ${ConsumerGroups.validator} AND outputs->0->'payload'->>'orderId' = ${s.orderId}`;
        return r?.id;
      },
      { what: "the validator's verdict", timeoutMs: 20_000 },
    );
    // The first charge attempt hangs past the client timeout and goes to the retry topic; cancel meanwhile.
    await f.cancel(s.orderId, s.userId);
    // The retry is applied (as a skip: the order is cancelled), not dead-lettered. Had it called the
    // provider, the hung first attempt would hold the key (409) until the retries ran out.
    await eventually(
      async () =>
        (await f.sql`SELECT 1 FROM processed_events WHERE consumer_group = ${ConsumerGroups.payment} AND event_id = ${validated}`)
          .length === 1,
      { what: 'the payment stage to apply the retried verdict', timeoutMs: 20_000 },
    );
    assert.equal((await f.charges(s.orderId)).length, 0, 'never charged');
    assert.equal((await f.sql`SELECT 1 FROM payments WHERE order_id = ${s.orderId}`).length, 0);
    assert.equal((await f.sql`SELECT 1 FROM reservations WHERE order_id = ${s.orderId}`).length, 0);
  });
});
