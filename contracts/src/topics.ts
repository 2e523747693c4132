/**
 * Kafka topic and consumer-group names. Every name can carry a namespace prefix (`test.orders.events`)
 * so an isolated run (the test suites) never mixes with the local dev stack on the same broker.
 */

export const Topics = {
  /** Every lifecycle event, keyed by order id so one order's events stay in order. */
  orderEvents: 'orders.events',
  /** Status changes as the projector applied them (OrderStatusChanged), for downstream consumers. */
  orderStatus: 'orders.status',
} as const;

export type TopicName = (typeof Topics)[keyof typeof Topics];

/** One consumer group per worker stage. */
export const ConsumerGroups = {
  validator: 'orders.validator',
  payment: 'orders.payment',
  inventory: 'orders.inventory',
  fulfillment: 'orders.fulfillment',
  projector: 'orders.projector',
  webhooks: 'orders.webhooks',
} as const;

export type ConsumerGroup = (typeof ConsumerGroups)[keyof typeof ConsumerGroups];

export function retryTopic(group: ConsumerGroup): string {
  return `${group}.retry`;
}

export function deadLetterTopic(group: ConsumerGroup): string {
  return `${group}.dlq`;
}

/** The Kafka group of a stage's retry consumer (its main consumer's group is the stage's own name). */
export function retryConsumerGroup(group: ConsumerGroup): string {
  return `${group}.retry-consumer`;
}

/**
 * The topic each stage consumes (besides its retry topic). The retention job reads it to know where a
 * stage's events can still be redelivered from; the workers' test checks every stage subscribes to it.
 */
export const StageInputs: Record<ConsumerGroup, TopicName> = {
  [ConsumerGroups.validator]: Topics.orderEvents,
  [ConsumerGroups.payment]: Topics.orderEvents,
  [ConsumerGroups.inventory]: Topics.orderEvents,
  [ConsumerGroups.fulfillment]: Topics.orderEvents,
  [ConsumerGroups.projector]: Topics.orderEvents,
  [ConsumerGroups.webhooks]: Topics.orderStatus,
};

const NAMESPACE = /^[a-z][a-z0-9-]{0,30}$/;

/** Applies a namespace prefix; an empty namespace leaves the name as it is. */
export function namespaced(name: string, namespace: string): string {
  if (namespace === '') return name;
  if (!NAMESPACE.test(namespace)) throw new Error(`namespace must match ${NAMESPACE}, got "${namespace}"`);
  return `${namespace}.${name}`;
}

/** Partitions of the main topic: the unit of consumer parallelism per stage. */
export const ORDER_EVENTS_PARTITIONS = 6;
