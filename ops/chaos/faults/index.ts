/**
 * The faults the schedules are made of, by kind: processes taken away (./crashes), links degraded
 * (./network), bad data (./poison). Each runs, heals, and is then timed by the canary.
 */
import { kafkaLeader, kill, pause, postgres, redis } from './crashes';
import { narrowPostgres, partition, resetRedis, slowKafka } from './network';
import { poison } from './poison';

export { canary } from './canary';
export type { Fault, FaultContext, FaultRecord, Observation } from './fault';

export const FAULTS = { kafkaLeader, redis, postgres, partition, slowKafka, narrowPostgres, resetRedis, kill, pause, poison };
