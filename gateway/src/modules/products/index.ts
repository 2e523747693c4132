/** HTTP for `/api/v1/products`: anyone signed in reads the catalogue; admins create and update. */
import { Elysia } from 'elysia';
import { authErrors, problems, secured } from '../../openapi';
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
        response: { 200: ProductPage, ...authErrors },
        detail: secured('List products (by SKU, cursor-paginated)', ['products']),
      },
    )
    .get('/:sku', ({ params, principal }) => products.get(params.sku, principal.role === 'admin'), {
      auth: ['customer', 'admin'],
      params: SkuParams,
      response: { 200: ProductView, ...authErrors, ...problems(404) },
      detail: secured('Read a product', ['products']),
    })
    .post(
      '/',
      async ({ body, set, principal }) => {
        const p = await products.create(body, principal.userId);
        set.status = 201;
        set.headers.location = `/api/v1/products/${p.sku}`;
        return p;
      },
      {
        auth: ['admin'],
        body: CreateProductBody,
        response: { 201: ProductView, ...authErrors, ...problems(409) },
        detail: secured('Create a product (admin)', ['products']),
      },
    )
    .patch('/:sku', ({ params, body, principal }) => products.update(params.sku, body, principal.userId), {
      auth: ['admin'],
      params: SkuParams,
      body: UpdateProductBody,
      response: { 200: ProductView, ...authErrors, ...problems(404) },
      detail: secured('Change name, price, stock or availability (admin)', ['products']),
    });
}
