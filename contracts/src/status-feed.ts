/**
 * The live status feed: what the status projector publishes (Redis pub/sub + a per-user sorted set) and
 * the WebSocket edge forwards to browsers. `seq` is the user's own sequence, strictly increasing per
 * user, assigned in the same PostgreSQL transaction as the status change: a client that saw `seq = n`
 * asks for everything after `n` when it reconnects.
 */
import type { OrderStatus } from './order-state';

export interface StatusUpdate {
  type: 'order.status';
  seq: number;
  userId: string;
  orderId: string;
  status: OrderStatus;
  previousStatus: OrderStatus | null;
  /** The order's version after the change (what `If-Match` compares with). */
  version: number;
  reason: string | null;
  /** Epoch milliseconds at which the projector applied the change. */
  occurredAt: number;
  /** The event that caused the change. */
  eventId: string;
}
