/**
 * Order schemas: the single source of truth for request validation, response shape, TypeScript types
 * and the OpenAPI document. Unknown fields are refused (no mass assignment of status, price or owner).
 */
import { ORDER_STATUSES } from '@orders/contracts';
import { t } from 'elysia';

export const Sku = t.String({ pattern: '^[A-Z0-9][A-Z0-9-]{1,63}$', description: 'Product SKU' });

export const OrderLineInput = t.Object(
  {
    sku: Sku,
    quantity: t.Integer({ minimum: 1, maximum: 1000 }),
  },
  { additionalProperties: false },
);

export const CreateOrderBody = t.Object(
  {
    items: t.Array(OrderLineInput, { minItems: 1, maxItems: 50 }),
    /** A token from the payment provider; card numbers are never accepted. */
    paymentMethodToken: t.Optional(t.String({ pattern: '^pm_[A-Za-z0-9_]{4,64}$' })),
  },
  { additionalProperties: false },
);
export type CreateOrderBody = typeof CreateOrderBody.static;

export const OrderIdParams = t.Object({ id: t.String({ format: 'uuid' }) });

export const OrderLineView = t.Object({
  sku: t.String(),
  quantity: t.Integer(),
  unitPriceCents: t.Integer(),
  lineTotalCents: t.Integer(),
});

export const OrderView = t.Object({
  id: t.String({ format: 'uuid' }),
  userId: t.String({ format: 'uuid' }),
  status: t.UnionEnum(ORDER_STATUSES),
  statusReason: t.Union([t.String(), t.Null()]),
  currency: t.String(),
  totalCents: t.Integer(),
  items: t.Array(OrderLineView),
  version: t.Integer(),
  createdAt: t.String({ format: 'date-time' }),
  updatedAt: t.String({ format: 'date-time' }),
});
export type OrderView = typeof OrderView.static;
