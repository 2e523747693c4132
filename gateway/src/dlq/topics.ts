/**
 * The dead-letter topics as the gateway's DLQ tooling sees them: which stage each belongs to, the
 * indexer's consumer group (the header a replayed message carries is `DeadLetterHeaders.replayedFrom`).
 */
import { type ConsumerGroup, ConsumerGroups, deadLetterTopic, namespaced } from '@orders/contracts';

export type StageName = keyof typeof ConsumerGroups;

export const STAGE_NAMES = Object.keys(ConsumerGroups) as [StageName, ...StageName[]];

/** Not a stage (retention does not wait for it): the indexer's own group, shared by every gateway. */
export const DLQ_INDEXER_GROUP = 'orders.dlq-indexer';

export interface DeadLetterTopic {
  topic: string;
  stage: StageName;
  group: ConsumerGroup;
}

/** Every stage's dead-letter topic in a namespace. */
export function deadLetterTopics(namespace: string): DeadLetterTopic[] {
  return (Object.entries(ConsumerGroups) as [StageName, ConsumerGroup][]).map(([stage, group]) => ({
    topic: namespaced(deadLetterTopic(group), namespace),
    stage,
    group,
  }));
}
