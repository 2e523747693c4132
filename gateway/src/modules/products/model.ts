/** Product schemas: the catalogue customers order from; admins create products and change price and stock. */
import { t } from 'elysia';
import { Int, QueryInt } from '../../schema';

export const Sku = t.String({ pattern: '^[A-Z0-9][A-Z0-9-]{1,63}$', description: 'Product SKU' });
const Currency = t.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code' });

export const ProductView = t.Object({
  sku: t.String(),
  name: t.String(),
  priceCents: Int(),
  currency: t.String(),
  stock: Int(),
  active: t.Boolean(),
  updatedAt: t.String({ format: 'date-time' }),
});
export type ProductView = typeof ProductView.static;

export const ProductPage = t.Object({ items: t.Array(ProductView), nextCursor: t.Union([t.String(), t.Null()]) });
export type ProductPage = typeof ProductPage.static;

export const ListProductsQuery = t.Object(
  {
    limit: t.Optional(QueryInt({ minimum: 1, maximum: 100 })),
    cursor: t.Optional(Sku),
    includeInactive: t.Optional(t.Boolean()),
  },
  { additionalProperties: false },
);

export const SkuParams = t.Object({ sku: Sku });

export const CreateProductBody = t.Object(
  {
    sku: Sku,
    name: t.String({ minLength: 1, maxLength: 200 }),
    priceCents: Int({ minimum: 0, maximum: 100_000_000 }),
    currency: Currency,
    stock: Int({ minimum: 0, maximum: 1_000_000_000 }),
    active: t.Optional(t.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateProductBody = typeof CreateProductBody.static;

export const UpdateProductBody = t.Object(
  {
    name: t.Optional(t.String({ minLength: 1, maxLength: 200 })),
    priceCents: t.Optional(Int({ minimum: 0, maximum: 100_000_000 })),
    stock: t.Optional(Int({ minimum: 0, maximum: 1_000_000_000 })),
    active: t.Optional(t.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateProductBody = typeof UpdateProductBody.static;
