import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { samplePayloads } from '@orders/contracts/testing/samples';
import { FraudScorer, scoreInline } from './pool';

const base = samplePayloads['order.placed'];
const scorer = new FraudScorer(2);
after(() => scorer.close());

describe('fraud model', () => {
  it('scores in (0, 1), identically on the pool and on the main thread', async () => {
    const orders = Array.from({ length: 100 }, (_, i) => ({ ...base, userId: `user-${i}`, totalCents: 500 + i * 997 }));
    const inline = scoreInline(orders);
    const pooled = await scorer.score(orders);
    assert.equal(pooled.length, 100);
    assert.deepEqual(pooled, inline);
    for (const s of inline) assert.ok(s > 0 && s < 1);
  });

  it('keeps ordinary baskets low-risk and scores huge ones higher', () => {
    const [small, huge] = scoreInline([
      { ...base, totalCents: 2_500 },
      { ...base, totalCents: 900_000, items: [{ sku: 'SKU-MUG', quantity: 900, unitPriceCents: 1_000 }] },
    ]);
    assert.ok((small as number) < 0.1, `small basket scored ${small}`);
    assert.ok((huge as number) > (small as number));
  });
});
