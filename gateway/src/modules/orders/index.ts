/** HTTP for orders: `/api/v1/orders`. The only file of the module that knows about requests. */
import { Elysia } from 'elysia';
import type { authPlugin } from '../../plugins/auth';
import { CreateOrderBody, OrderIdParams, OrderView } from './model';
import type { OrdersService } from './service';

export function ordersModule(auth: ReturnType<typeof authPlugin>, orders: OrdersService) {
  return new Elysia({ name: 'orders', normalize: false, prefix: '/api/v1/orders' })
    .use(auth)
    .post(
      '/',
      async ({ body, principal, set }) => {
        const order = await orders.create(principal, body);
        set.status = 201;
        set.headers.location = `/api/v1/orders/${order.id}`;
        set.headers.etag = `"${order.version}"`;
        return order;
      },
      {
        auth: ['customer', 'admin'],
        body: CreateOrderBody,
        response: { 201: OrderView },
        detail: { summary: 'Place an order', tags: ['orders'] },
      },
    )
    .get(
      '/:id',
      async ({ params, principal, set }) => {
        const order = await orders.get(principal, params.id);
        set.headers.etag = `"${order.version}"`;
        return order;
      },
      {
        auth: ['customer', 'admin'],
        params: OrderIdParams,
        response: { 200: OrderView },
        detail: { summary: 'Read one of your orders', tags: ['orders'] },
      },
    );
}
