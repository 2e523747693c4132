/**
 * The order state machine. Transitions are data, so the gateway (cancel, update), the status projector
 * and the tracking page all agree on what may follow what.
 *
 *   pending ─► validated ─► paid ─► reserved ─► shipped
 *      │           │          │         │
 *      ├► rejected ├► failed  ├► failed │
 *      └───────────┴──────────┴─────────┴──► cancelled   (any time before shipment)
 */
import { ContractError, ContractErrorCodes } from './errors';
import { Events, type EventType } from './events';

export const ORDER_STATUSES = ['pending', 'validated', 'paid', 'reserved', 'shipped', 'cancelled', 'rejected', 'failed'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const TRANSITIONS: { readonly [S in OrderStatus]: readonly OrderStatus[] } = {
  pending: ['validated', 'rejected', 'cancelled'],
  validated: ['paid', 'failed', 'cancelled'],
  paid: ['reserved', 'failed', 'cancelled'],
  reserved: ['shipped', 'cancelled'],
  shipped: [],
  cancelled: [],
  rejected: [],
  failed: [],
};

export const TERMINAL_STATUSES: readonly OrderStatus[] = ORDER_STATUSES.filter((s) => TRANSITIONS[s].length === 0);

/** Statuses from which a customer may still cancel (everything before shipment that is not final). */
export const CANCELLABLE_STATUSES: readonly OrderStatus[] = ORDER_STATUSES.filter((s) => TRANSITIONS[s].includes('cancelled'));

export function isOrderStatus(value: string): value is OrderStatus {
  return (ORDER_STATUSES as readonly string[]).includes(value);
}

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Throws `CONTRACTS_ILLEGAL_TRANSITION` unless `from → to` is allowed. */
export function assertTransition(from: string, to: string): asserts to is OrderStatus {
  if (!isOrderStatus(from)) throw new ContractError(ContractErrorCodes.unknownStatus, `unknown order status "${from}"`);
  if (!isOrderStatus(to)) throw new ContractError(ContractErrorCodes.unknownStatus, `unknown order status "${to}"`);
  if (!canTransition(from, to)) {
    const allowed = TRANSITIONS[from];
    throw new ContractError(
      ContractErrorCodes.illegalTransition,
      `an order cannot go from ${from} to ${to} (allowed: ${allowed.length > 0 ? allowed.join(', ') : 'none, it is final'})`,
    );
  }
}

/** The status an event moves its order to; events absent here do not change the status. */
export const STATUS_BY_EVENT: Partial<Record<EventType, OrderStatus>> = {
  [Events.OrderValidated]: 'validated',
  [Events.OrderRejected]: 'rejected',
  [Events.PaymentAuthorized]: 'paid',
  [Events.PaymentFailed]: 'failed',
  [Events.StockReserved]: 'reserved',
  [Events.StockUnavailable]: 'failed',
  [Events.OrderShipped]: 'shipped',
  [Events.OrderCancelled]: 'cancelled',
};
