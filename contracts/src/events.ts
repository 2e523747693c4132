/**
 * The order lifecycle events: one `as const` registry of names (past tense, `<entity>.<what happened>`),
 * their Avro record names, and the payload types. Payloads are thin: ids and the facts of the change;
 * consumers read anything else they need from their own state.
 */

/** Event wire name by Avro record name (namespace {@link AVRO_NAMESPACE}). */
export const Events = {
  OrderPlaced: 'order.placed',
  OrderUpdated: 'order.updated',
  OrderValidated: 'order.validated',
  OrderRejected: 'order.rejected',
  PaymentAuthorized: 'payment.authorized',
  PaymentFailed: 'payment.failed',
  PaymentRefunded: 'payment.refunded',
  StockReserved: 'stock.reserved',
  StockUnavailable: 'stock.unavailable',
  StockReleased: 'stock.released',
  OrderShipped: 'order.shipped',
  OrderCancelled: 'order.cancelled',
  OrderStatusChanged: 'order.status_changed',
} as const;

export const AVRO_NAMESPACE = 'io.orderplatform.events';

export type RecordName = keyof typeof Events;
export type EventType = (typeof Events)[RecordName];

export const EVENT_TYPES = Object.values(Events) as EventType[];

const recordByType = new Map<string, RecordName>(Object.entries(Events).map(([record, type]) => [type, record as RecordName]));

export function isEventType(value: string): value is EventType {
  return recordByType.has(value);
}

export function recordNameOf(type: EventType): RecordName {
  const record = recordByType.get(type);
  if (record === undefined) throw new Error(`unknown event type ${type}`);
  return record;
}

export function eventTypeOfRecord(fullName: string): EventType | undefined {
  const prefix = `${AVRO_NAMESPACE}.`;
  if (!fullName.startsWith(prefix)) return undefined;
  return (Events as Record<string, EventType>)[fullName.slice(prefix.length)];
}

/** Fields every event carries. */
export interface EventBase {
  /** UUID; consumers de-duplicate on it. */
  eventId: string;
  /** Epoch milliseconds. */
  occurredAt: number;
  orderId: string;
  userId: string;
}

export interface OrderLine {
  sku: string;
  quantity: number;
  unitPriceCents: number;
}

export interface OrderPlaced extends EventBase {
  currency: string;
  totalCents: number;
  items: OrderLine[];
  /** A provider-issued token, never card data (keeps the platform out of PCI DSS cardholder-data scope). */
  paymentMethodToken: string | null;
}
export interface OrderUpdated extends EventBase {
  /** The order's content revision after the change. */
  revision: number;
  currency: string;
  totalCents: number;
  items: OrderLine[];
  paymentMethodToken: string | null;
}
export interface OrderValidated extends EventBase {
  riskScore: number;
  /** The revision judged; null from v1 writers (applies to whatever revision the order has). */
  revision: number | null;
}
export interface OrderRejected extends EventBase {
  code: string;
  reason: string;
  revision: number | null;
}
export interface PaymentAuthorized extends EventBase {
  paymentId: string;
  amountCents: number;
  currency: string;
}
export interface PaymentFailed extends EventBase {
  code: string;
  reason: string;
}
export interface PaymentRefunded extends EventBase {
  paymentId: string;
  amountCents: number;
  reason: string;
}
export interface StockReserved extends EventBase {
  reservationId: string;
}
export interface StockUnavailable extends EventBase {
  skus: string[];
}
export interface StockReleased extends EventBase {
  reservationId: string;
  reason: string;
}
export interface OrderShipped extends EventBase {
  shipmentId: string;
  carrier: string;
  trackingNumber: string;
}
export interface OrderCancelled extends EventBase {
  reason: string;
  /** The user id that asked, or `system`. */
  cancelledBy: string;
  previousStatus: string;
}
export interface OrderStatusChanged extends EventBase {
  fromStatus: string | null;
  toStatus: string;
  /** The order's version after the change. */
  version: number;
  reason: string | null;
  causationEventId: string;
  causationType: string;
}

export interface EventPayloads {
  'order.placed': OrderPlaced;
  'order.updated': OrderUpdated;
  'order.validated': OrderValidated;
  'order.rejected': OrderRejected;
  'payment.authorized': PaymentAuthorized;
  'payment.failed': PaymentFailed;
  'payment.refunded': PaymentRefunded;
  'stock.reserved': StockReserved;
  'stock.unavailable': StockUnavailable;
  'stock.released': StockReleased;
  'order.shipped': OrderShipped;
  'order.cancelled': OrderCancelled;
  'order.status_changed': OrderStatusChanged;
}

/** A decoded event: the discriminated union consumers switch on. */
export type AnyEvent = { [K in EventType]: { type: K; payload: EventPayloads[K] } }[EventType];
