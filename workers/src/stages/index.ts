/** Every stage the workers can run, built with what each needs. */
import type { Sql } from '@orders/platform';
import type { StageName } from '../env';
import type { Stage } from '../runtime/stage';
import { webhookFanoutStage } from '../webhooks/fanout';
import { fulfillmentStage } from './fulfillment/index';
import { inventoryStage } from './inventory/index';
import { paymentStage } from './payment/index';
import type { PaymentProvider } from './payment/provider';
import { projectorStage } from './projector/index';
import type { FraudScorer } from './validator/fraud/pool';
import { validatorStage } from './validator/index';

export interface StageNeeds {
  sql: Sql;
  scorer: FraudScorer;
  provider: PaymentProvider;
  fraudRejectThreshold: number;
  paymentConcurrency: number;
  catalogueTtlMs: number;
}

export function createStages(n: StageNeeds): Record<StageName, Stage> {
  return {
    validator: validatorStage({ sql: n.sql, scorer: n.scorer, rejectThreshold: n.fraudRejectThreshold, catalogueTtlMs: n.catalogueTtlMs }),
    payment: paymentStage({ sql: n.sql, provider: n.provider, concurrency: n.paymentConcurrency }),
    inventory: inventoryStage,
    fulfillment: fulfillmentStage,
    projector: projectorStage,
    webhooks: webhookFanoutStage,
  };
}
