/**
 * Order schemas: the single source of truth for request validation, response shape, TypeScript types
 * and the OpenAPI document. Unknown fields are refused (no mass assignment of status, price or owner).
 */
import { ORDER_STATUSES } from '@orders/contracts';
import { t } from 'elysia';
import { Int, QueryInt } from '../../schema';
import { Sku } from '../products/model';

export const OrderLineInput = t.Object(
  {
    sku: Sku,
    quantity: Int({ minimum: 1, maximum: 1000 }),
  },
  { additionalProperties: false },
);

const Lines = t.Array(OrderLineInput, { minItems: 1, maxItems: 50 });
/** A token from the payment provider; card numbers are never accepted. */
const PaymentMethodToken = t.String({ pattern: '^pm_[A-Za-z0-9_]{4,64}$', description: 'Payment provider token (never card data)' });

export const CreateOrderBody = t.Object(
  { items: Lines, paymentMethodToken: t.Optional(PaymentMethodToken) },
  { additionalProperties: false },
);
export type CreateOrderBody = typeof CreateOrderBody.static;

export const UpdateOrderBody = t.Object(
  { items: t.Optional(Lines), paymentMethodToken: t.Optional(PaymentMethodToken) },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateOrderBody = typeof UpdateOrderBody.static;

export const CancelOrderBody = t.Optional(
  t.Object({ reason: t.Optional(t.String({ minLength: 1, maxLength: 200 })) }, { additionalProperties: false }),
);

export const OrderIdParams = t.Object({ id: t.String({ format: 'uuid' }) });

export const CreateOrderHeaders = t.Object({
  'idempotency-key': t.Optional(
    t.String({ pattern: '^[\\x21-\\x7E]{1,255}$', description: 'Retries with the same key and body replay the first answer (kept 24 h)' }),
  ),
});

const IfMatch = t.String({ pattern: '^(W/)?"[0-9]{1,9}"$', description: 'The ETag (version) you last read, like "3"' });

export const IfMatchHeaders = t.Object({ 'if-match': t.Optional(IfMatch) });

/** A change needs the version it was based on: without If-Match the request is refused (400). */
export const RequiredIfMatchHeaders = t.Object({ 'if-match': IfMatch });

const Status = t.UnionEnum(ORDER_STATUSES);

export const ListOrdersQuery = t.Object(
  {
    status: t.Optional(
      t.String({ pattern: `^(${ORDER_STATUSES.join('|')})(,(${ORDER_STATUSES.join('|')}))*$`, description: 'Comma-separated statuses' }),
    ),
    createdFrom: t.Optional(t.String({ format: 'date-time', description: 'Inclusive' })),
    createdTo: t.Optional(t.String({ format: 'date-time', description: 'Exclusive' })),
    limit: t.Optional(QueryInt({ minimum: 1, maximum: 100 })),
    cursor: t.Optional(t.String({ pattern: '^[A-Za-z0-9_-]{1,200}$' })),
  },
  { additionalProperties: false },
);
export type ListOrdersQuery = typeof ListOrdersQuery.static;

export const AdminListOrdersQuery = t.Object(
  { ...ListOrdersQuery.properties, userId: t.Optional(t.String({ format: 'uuid' })) },
  { additionalProperties: false },
);
export type AdminListOrdersQuery = typeof AdminListOrdersQuery.static;

export const OrderLineView = t.Object({
  sku: t.String(),
  quantity: Int(),
  unitPriceCents: Int(),
  lineTotalCents: Int(),
});

export const OrderView = t.Object({
  id: t.String({ format: 'uuid' }),
  userId: t.String({ format: 'uuid' }),
  status: Status,
  statusReason: t.Union([t.String(), t.Null()]),
  currency: t.String(),
  totalCents: Int(),
  items: t.Array(OrderLineView),
  version: Int({ description: 'Bumped by every change; the ETag' }),
  createdAt: t.String({ format: 'date-time' }),
  updatedAt: t.String({ format: 'date-time' }),
});
export type OrderView = typeof OrderView.static;

export const OrderPage = t.Object({ items: t.Array(OrderView), nextCursor: t.Union([t.String(), t.Null()]) });
export type OrderPage = typeof OrderPage.static;

export const HistoryEntry = t.Object({
  fromStatus: t.Union([Status, t.Null()]),
  toStatus: Status,
  reason: t.Union([t.String(), t.Null()]),
  version: Int(),
  occurredAt: t.String({ format: 'date-time' }),
});
export const HistoryView = t.Object({ orderId: t.String({ format: 'uuid' }), entries: t.Array(HistoryEntry) });
export type HistoryView = typeof HistoryView.static;
