/** Webhook signing, checked by the reference implementation (the standardwebhooks package). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { generateSecret, sign } from './signing';

describe('Standard Webhooks signatures', () => {
  const body = JSON.stringify({ type: 'order.shipped', timestamp: '2026-11-25T20:00:00.000Z', data: { orderId: 'x' } });
  const headers = (signature: string, ts: number) => ({
    'webhook-id': 'msg_1',
    'webhook-timestamp': String(ts),
    'webhook-signature': signature,
  });

  it('verifies with the standardwebhooks package, and fails with another secret or another body', () => {
    const secret = generateSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{32}$/);
    const ts = Math.floor(Date.now() / 1000);
    const signature = sign([secret], 'msg_1', ts, body);
    assert.deepEqual(new Webhook(secret).verify(body, headers(signature, ts)), JSON.parse(body));
    assert.throws(() => new Webhook(generateSecret()).verify(body, headers(signature, ts)));
    assert.throws(() => new Webhook(secret).verify(`${body} `, headers(signature, ts)));
  });

  it('during a rotation both the new and the old secret verify', () => {
    const [fresh, old] = [generateSecret(), generateSecret()];
    const ts = Math.floor(Date.now() / 1000);
    const signature = sign([fresh, old], 'msg_1', ts, body);
    assert.equal(signature.split(' ').length, 2);
    for (const s of [fresh, old]) assert.ok(new Webhook(s).verify(body, headers(signature, ts)));
  });
});
