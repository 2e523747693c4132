/** Every stage the workers can run, built with what each needs. */
import type { Sql } from '@orders/platform';
import type { StageName } from '../env';
import type { Stage } from '../runtime/stage';
import { fulfillmentStage } from './fulfillment/index';
import { inventoryStage } from './inventory/index';
import { paymentStage } from './payment/index';
import type { PaymentProvider } from './payment/provider';
import { projectorStage } from './projector/index';
import type { FraudScorer } from './validator/fraud/pool';
import { validatorStage } from './validator/index';
import { webhookFanoutStage } from './webhooks/fanout';

export interface StageNeeds {
  sql: Sql;
  scorer: FraudScorer;
  provider: PaymentProvider;
  fraudRejectThreshold: number;
  paymentConcurrency: number;
  catalogueTtlMs: number;
}

export function createStages({
  sql,
  scorer,
  provider,
  fraudRejectThreshold,
  paymentConcurrency,
  catalogueTtlMs,
}: StageNeeds): Record<StageName, Stage> {
  return {
    validator: validatorStage({ sql, scorer, rejectThreshold: fraudRejectThreshold, catalogueTtlMs }),
    payment: paymentStage({ sql, provider, concurrency: paymentConcurrency }),
    inventory: inventoryStage,
    fulfillment: fulfillmentStage,
    projector: projectorStage,
    webhooks: webhookFanoutStage,
  };
}
