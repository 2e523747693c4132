/** HTTP for `/api/v1/products`: anyone signed in reads the catalogue; admins create and update. */
import { Elysia } from 'elysia';
import type { authPlugin } from '../../plugins/auth';
import { CreateProductBody, ListProductsQuery, ProductPage, ProductView, SkuParams, UpdateProductBody } from './model';
import type { ProductsService } from './service';

export function productsModule(auth: ReturnType<typeof authPlugin>, products: ProductsService) {
  return new Elysia({ name: 'products', normalize: false, prefix: '/api/v1/products' })
    .use(auth)
    .get(
      '/',
      ({ query, principal }) =>
        products.list({
          limit: query.limit ?? 50,
          cursor: query.cursor,
          includeInactive: principal.role === 'admin' && query.includeInactive === true,
        }),
      {
        auth: ['customer', 'admin'],
        query: ListProductsQuery,
        response: { 200: ProductPage },
        detail: { summary: 'List products (by SKU, cursor-paginated)', tags: ['products'] },
      },
    )
    .get('/:sku', ({ params, principal }) => products.get(params.sku, principal.role === 'admin'), {
      auth: ['customer', 'admin'],
      params: SkuParams,
      response: { 200: ProductView },
      detail: { summary: 'Read a product', tags: ['products'] },
    })
    .post(
      '/',
      async ({ body, set }) => {
        const p = await products.create(body);
        set.status = 201;
        set.headers.location = `/api/v1/products/${p.sku}`;
        return p;
      },
      {
        auth: ['admin'],
        body: CreateProductBody,
        response: { 201: ProductView },
        detail: { summary: 'Create a product (admin)', tags: ['products'] },
      },
    )
    .patch('/:sku', ({ params, body }) => products.update(params.sku, body), {
      auth: ['admin'],
      params: SkuParams,
      body: UpdateProductBody,
      response: { 200: ProductView },
      detail: { summary: 'Change name, price, stock or availability (admin)', tags: ['products'] },
    });
}
