/**
 * What the checker compares: the history the clients recorded during the run, the orders the database
 * holds for those clients, and the shape of one verdict row.
 */
import type postgres from 'postgres';
import type { FaultRecord } from '../faults';
import type { Attempt, Customer, Feed, PlaceOp } from '../load';
import type { Receiver } from '../webhook-receiver';

export interface Row {
  invariant: string;
  held: boolean;
  detail: string;
}

export interface History {
  ops: PlaceOp[];
  reads: Attempt[];
  customers: Customer[];
  feeds: Feed[];
  /** Each receiver with its endpoint and the customer who subscribed it. */
  receivers: { receiver: Receiver; endpointId: string; userId: string }[];
  faults: FaultRecord[];
  poisonKeys: string[];
  /** Stock of each SKU the load used, before it started. */
  stockBefore: Map<string, number>;
  /** How long after the last heal every acknowledged order was terminal. */
  drainMs: number | undefined;
  drainBoundMs: number;
}

export const row = (invariant: string, held: boolean, detail: string): Row => ({ invariant, held, detail });

/** One order of the run's customers as the database holds it at the end. */
export interface OrderRow {
  id: string;
  status: string;
  user_id: string;
  total_cents: number;
}

/** What every invariant may look at: the database, the history, and the run's orders (by id too). */
export interface Evidence {
  sql: postgres.Sql;
  h: History;
  userIds: string[];
  dbOrders: OrderRow[];
  byId: Map<string, OrderRow>;
}
