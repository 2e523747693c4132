/** HTTP for `/api/v1/admin`: every customer's orders, for administrators only. */
import { Elysia } from 'elysia';
import { authErrors, problems, secured } from '../../openapi';
import type { authPlugin } from '../../plugins/auth';
import type { OrderCommands } from '../orders/commands';
import { cancelHandler } from '../orders/index';
import { AdminListOrdersQuery, CancelOrderBody, IfMatchHeaders, OrderIdParams, OrderPage, OrderView } from '../orders/model';
import type { OrderQueries } from '../orders/queries';

export function adminModule(auth: ReturnType<typeof authPlugin>, commands: OrderCommands, queries: OrderQueries) {
  return new Elysia({ name: 'admin', normalize: false, prefix: '/api/v1/admin' })
    .use(auth)
    .get('/orders', ({ query, principal }) => queries.list(principal, query, 'all'), {
      auth: ['admin'],
      query: AdminListOrdersQuery,
      response: { 200: OrderPage, ...authErrors },
      detail: secured('List all orders (filter by user, status, creation time)', ['admin']),
    })
    .get('/orders/:id', ({ params, principal }) => queries.get(principal, params.id), {
      auth: ['admin'],
      params: OrderIdParams,
      response: { 200: OrderView, ...authErrors, ...problems(404) },
      detail: secured('Read any order', ['admin']),
    })
    .post('/orders/:id/cancel', cancelHandler(commands), {
      auth: ['admin'],
      params: OrderIdParams,
      headers: IfMatchHeaders,
      body: CancelOrderBody,
      response: { 200: OrderView, ...authErrors, ...problems(404, 409, 412) },
      detail: secured('Cancel any order before it ships', ['admin']),
    });
}
