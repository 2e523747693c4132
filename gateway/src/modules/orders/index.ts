/** HTTP for `/api/v1/orders`: a customer's own orders. The only file of the module that knows requests. */
import type { Principal } from '@orders/platform';
import { Elysia } from 'elysia';
import { GatewayErrorCodes } from '../../error-codes';
import { DomainError } from '../../errors';
import { authErrors, problems, secured } from '../../openapi';
import type { authPlugin } from '../../plugins/auth';
import { traceOf } from '../../plugins/observability';
import type { OrderCommands } from './commands';
import {
  CancelOrderBody,
  CreateOrderBody,
  CreateOrderHeaders,
  HistoryView,
  IfMatchHeaders,
  ListOrdersQuery,
  OrderIdParams,
  OrderPage,
  OrderView,
  RequiredIfMatchHeaders,
  UpdateOrderBody,
} from './model';
import type { OrderQueries } from './queries';

/** `"3"` or `W/"3"` → 3; anything else is refused rather than ignored. */
export function parseIfMatch(header: string): number;
export function parseIfMatch(header: string | undefined): number | undefined;
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:W\/)?"(\d{1,9})"$/.exec(header.trim());
  if (!m)
    throw new DomainError(
      'bad_request',
      GatewayErrorCodes.ordersBadIfMatch,
      'Invalid If-Match',
      'If-Match must be the ETag you read, like "3".',
    );
  return Number(m[1]);
}

/** The cancel handler, shared by the customer route and the admin route (which differ only in roles). */
export function cancelHandler(commands: OrderCommands) {
  return async ({
    params,
    headers,
    body,
    principal,
    set,
    request,
  }: {
    request: Request;
    params: { id: string };
    headers: { 'if-match'?: string };
    body: { reason?: string } | null | undefined;
    principal: Principal;
    set: { headers: Record<string, string | number> };
  }) => {
    const order = await commands.cancel(principal, params.id, parseIfMatch(headers['if-match']), body?.reason, traceOf(request));
    set.headers.etag = `"${order.version}"`;
    return order;
  };
}

export function ordersModule(auth: ReturnType<typeof authPlugin>, commands: OrderCommands, queries: OrderQueries) {
  return new Elysia({ name: 'orders', normalize: false, prefix: '/api/v1/orders' })
    .use(auth)
    .post(
      '/',
      async ({ body, headers, principal, set, request }) => {
        const result = await commands.create(principal, body, headers['idempotency-key'], traceOf(request));
        set.status = result.status;
        set.headers.location = `/api/v1/orders/${result.order.id}`;
        set.headers.etag = `"${result.order.version}"`;
        if (result.replayed) set.headers['idempotent-replayed'] = 'true';
        return result.order;
      },
      {
        auth: ['customer', 'admin'],
        headers: CreateOrderHeaders,
        body: CreateOrderBody,
        response: { 201: OrderView, ...authErrors, ...problems(409, 422) },
        detail: secured('Place an order', ['orders'], {
          description:
            'Prices come from the catalogue. With an Idempotency-Key, a retry with the same body replays the first answer (header Idempotent-Replayed: true); another body under the same key is 422; a retry while the first is still being written is 409.',
        }),
      },
    )
    .get('/', ({ query, principal }) => queries.list(principal, query, 'own'), {
      auth: ['customer', 'admin'],
      query: ListOrdersQuery,
      response: { 200: OrderPage, ...authErrors },
      detail: secured('List your orders, newest first', ['orders']),
    })
    .get(
      '/:id',
      async ({ params, principal, set, request }) => {
        const fresh = /no-cache/i.test(request.headers.get('cache-control') ?? '');
        const order = await queries.get(principal, params.id, fresh);
        set.headers.etag = `"${order.version}"`;
        return order;
      },
      {
        auth: ['customer', 'admin'],
        params: OrderIdParams,
        response: { 200: OrderView, ...authErrors, ...problems(404) },
        detail: secured('Read one of your orders', ['orders'], {
          description:
            'Served from a read cache kept current by events (milliseconds behind); send Cache-Control: no-cache to read the database.',
        }),
      },
    )
    .patch(
      '/:id',
      async ({ params, headers, body, principal, set, request }) => {
        const order = await commands.update(principal, params.id, parseIfMatch(headers['if-match']), body, traceOf(request));
        set.headers.etag = `"${order.version}"`;
        return order;
      },
      {
        auth: ['customer', 'admin'],
        params: OrderIdParams,
        headers: RequiredIfMatchHeaders,
        body: UpdateOrderBody,
        response: { 200: OrderView, ...authErrors, ...problems(404, 409, 412, 422) },
        detail: secured('Change a pending order (lines, payment method)', ['orders'], {
          description:
            'Needs If-Match with the ETag you read (400 without it): a stale version answers 412. Only pending orders change (409 otherwise).',
        }),
      },
    )
    .post('/:id/cancel', cancelHandler(commands), {
      auth: ['customer', 'admin'],
      params: OrderIdParams,
      headers: IfMatchHeaders,
      body: CancelOrderBody,
      response: { 200: OrderView, ...authErrors, ...problems(404, 409, 412) },
      detail: secured('Cancel an order before it ships', ['orders']),
    })
    .get('/:id/history', ({ params, principal }) => queries.history(principal, params.id), {
      auth: ['customer', 'admin'],
      params: OrderIdParams,
      response: { 200: HistoryView, ...authErrors, ...problems(404) },
      detail: secured("An order's status history", ['orders']),
    });
}
