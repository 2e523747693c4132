/**
 * What a fault is, what it records, and what it is given: each fault runs, heals, and is then timed
 * until the platform has recovered (an order placed after the heal reaches `shipped`). Faults stay
 * bounded in time and on loopback.
 */
import type postgres from 'postgres';
import type { Attempt, Customer } from '../load';
import type { Services } from '../services';

export interface Observation {
  check: string;
  ok: boolean;
  detail: string;
}

export interface FaultRecord {
  name: string;
  target: string;
  startedAt: number;
  healedAt: number;
  /** Heal → an order placed after it shipped; undefined when it did not within the bound. */
  recoveryMs?: number;
  /** Client requests that got no answer or a 5xx from the fault's start until it had recovered. */
  failedRequests?: number;
  observations: Observation[];
}

export interface FaultContext {
  services: Services;
  sql: postgres.Sql;
  /** A customer of its own for probes and canaries (not part of the load's history). */
  probe: Customer;
  log: (s: string) => void;
  /** Keys of the messages written on purpose that no stage can decode (they belong in the DLQs). */
  poisonKeys: string[];
}

export interface Fault {
  name: string;
  run(ctx: FaultContext): Promise<Omit<FaultRecord, 'name' | 'recoveryMs' | 'failedRequests'>>;
}

/** The order the probes and the canary place (the probe customer's own, outside the load's history). */
export const PROBE_ORDER = { items: [{ sku: 'SOCKS-3PACK', quantity: 1 }], paymentMethodToken: 'pm_card_visa' };

/** A clear failure: an RFC 9457 problem document. */
export const isProblem = (a: Attempt) => (a.contentType ?? '').startsWith('application/problem+json');
