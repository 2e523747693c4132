/**
 * validator: `order.placed` | `order.updated` → `order.validated` | `order.rejected`. Checks the order
 * against the catalogue and the business rules, and scores its fraud risk with the model on the
 * worker-thread pool (the whole batch at once, in `prepare`, never on the main thread); emits the
 * verdict, naming the revision it judged, for the status projector and the later stages.
 */
import { ConsumerGroups, type DecodedEvent, Events, type OrderPlaced, type OrderUpdated, Topics } from '@orders/contracts';
import type { Sql } from '@orders/platform';
import { type DecidingStage, event, type Prepared } from '../../runtime/stage';
import { RejectionReasons } from '../reasons';
import { Catalogue } from './catalogue';
import type { FraudScorer } from './fraud/pool';
import { type CatalogueEntry, validateOrder } from './rules';

export interface ValidatorOptions {
  sql: Sql;
  scorer: FraudScorer;
  /** Orders scoring above this are refused as suspected fraud. */
  rejectThreshold: number;
  catalogueTtlMs: number;
}

interface Judged {
  risk: number;
  products: Map<string, CatalogueEntry>;
}

function orderOf(e: DecodedEvent): (OrderPlaced | OrderUpdated) & { revision?: number } {
  return e.payload as OrderPlaced | OrderUpdated;
}

export function validatorStage({ sql, scorer, rejectThreshold, catalogueTtlMs }: ValidatorOptions): DecidingStage {
  const catalogue = new Catalogue(sql, catalogueTtlMs);
  return {
    name: 'validator',
    group: ConsumerGroups.validator,
    topics: [Topics.orderEvents],
    handles: [Events.OrderPlaced, Events.OrderUpdated],
    /** The batch's fraud scores (on the pool) and its products (one catalogue lookup), at once. */
    async prepare(events) {
      const orders = events.map(orderOf);
      const [scores, products] = await Promise.all([
        scorer.score(orders),
        catalogue.lookup([...new Set(orders.flatMap((x) => x.items.map((i) => i.sku)))]),
      ]);
      return scores.map((risk): Prepared => ({ ok: true, value: { risk, products } satisfies Judged }));
    },
    async decide(e, { newId }, prepared) {
      const { risk, products } = prepared as Judged;
      const order = orderOf(e);
      const revision = e.type === Events.OrderUpdated ? e.payload.revision : 1;
      const rules = validateOrder(order as OrderPlaced, products);
      const verdict = !rules.ok
        ? rules
        : risk > rejectThreshold
          ? { ok: false as const, code: RejectionReasons.fraudSuspected, reason: `risk score ${risk.toFixed(3)} above ${rejectThreshold}` }
          : { ok: true as const, riskScore: Math.round(risk * 1000) / 1000 };
      const base = { eventId: newId(), occurredAt: Date.now(), orderId: order.orderId, userId: order.userId };
      return [
        verdict.ok
          ? event(Topics.orderEvents, Events.OrderValidated, order.orderId, { ...base, riskScore: verdict.riskScore, revision })
          : event(Topics.orderEvents, Events.OrderRejected, order.orderId, {
              ...base,
              code: verdict.code,
              reason: verdict.reason,
              revision,
            }),
      ];
    },
  };
}
