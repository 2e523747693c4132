import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StageInputs } from '@orders/contracts';
import type { Sql } from '@orders/platform';
import { createStages } from './index';
import type { PaymentProvider } from './payment/provider';
import type { FraudScorer } from './validator/fraud/pool';

describe('stage inputs', () => {
  it('every stage subscribes to exactly the topic the contracts name for it (the retention job relies on it)', () => {
    const stages = createStages({
      sql: (() => {}) as unknown as Sql,
      scorer: {} as FraudScorer,
      provider: {} as PaymentProvider,
      fraudRejectThreshold: 0.9,
      paymentConcurrency: 1,
      catalogueTtlMs: 1000,
    });
    for (const stage of Object.values(stages)) {
      assert.deepEqual(stage.topics, [StageInputs[stage.group as keyof typeof StageInputs]], stage.group);
    }
    assert.equal(Object.keys(StageInputs).length, Object.keys(stages).length);
  });
});
