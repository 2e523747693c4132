/** HTTP for `/api/v1/webhooks`: owner-scoped endpoint registration, deliveries and their attempts. */
import { Elysia, t } from 'elysia';
import { authErrors, problems, secured } from '../../openapi';
import type { authPlugin } from '../../plugins/auth';
import type { WebhookDeliveries } from './deliveries';
import type { WebhookEndpoints } from './endpoints';
import {
  CreatedEndpointView,
  CreateEndpointBody,
  DeliveriesQuery,
  EndpointIdParams,
  EndpointPage,
  EndpointView,
  ListQuery,
  MessageDetailView,
  MessagePage,
  MessageParams,
  QueuedView,
  RedeliverBody,
  RotateBody,
  SecretView,
  UpdateEndpointBody,
} from './model';

const roles: ('customer' | 'admin')[] = ['customer', 'admin'];
const tags = ['webhooks'];

export function webhooksModule(auth: ReturnType<typeof authPlugin>, endpoints: WebhookEndpoints, deliveries: WebhookDeliveries) {
  return new Elysia({ name: 'webhooks', normalize: false, prefix: '/api/v1/webhooks' })
    .use(auth)
    .post(
      '/',
      async ({ body, principal, set }) => {
        const created = await endpoints.create(principal, body);
        set.status = 201;
        set.headers.location = `/api/v1/webhooks/${created.id}`;
        return created;
      },
      {
        auth: roles,
        body: CreateEndpointBody,
        response: { 201: CreatedEndpointView, ...authErrors, ...problems(422) },
        detail: secured(
          'Register an endpoint, with optional custom headers and rate limit (its secret is in this answer only; 10 per hour)',
          tags,
        ),
      },
    )
    .get('/', ({ principal, query }) => endpoints.list(principal, query.limit ?? 20, query.cursor), {
      auth: roles,
      query: ListQuery,
      response: { 200: EndpointPage, ...authErrors },
      detail: secured('List your endpoints (admins: everyone’s), newest first', tags),
    })
    .get('/:id', ({ principal, params }) => endpoints.get(principal, params.id), {
      auth: roles,
      params: EndpointIdParams,
      response: { 200: EndpointView, ...authErrors, ...problems(404) },
      detail: secured('Read an endpoint, with why it was disabled if it was', tags),
    })
    .patch('/:id', ({ principal, params, body }) => endpoints.update(principal, params.id, body), {
      auth: roles,
      params: EndpointIdParams,
      body: UpdateEndpointBody,
      response: { 200: EndpointView, ...authErrors, ...problems(404, 422) },
      detail: secured('Change URL, event types, description, ordering, custom headers (replaced as a whole) or rate limit', tags),
    })
    .delete(
      '/:id',
      async ({ principal, params, set }) => {
        await endpoints.remove(principal, params.id);
        set.status = 204;
      },
      {
        auth: roles,
        params: EndpointIdParams,
        response: { 204: t.Void(), ...authErrors, ...problems(404) },
        detail: secured('Delete an endpoint and its deliveries', tags),
      },
    )
    .post('/:id/pause', ({ principal, params }) => endpoints.setStatus(principal, params.id, 'paused'), {
      auth: roles,
      params: EndpointIdParams,
      response: { 200: EndpointView, ...authErrors, ...problems(404, 409) },
      detail: secured('Pause deliveries (messages keep collecting)', tags),
    })
    .post('/:id/resume', ({ principal, params }) => endpoints.setStatus(principal, params.id, 'active'), {
      auth: roles,
      params: EndpointIdParams,
      response: { 200: EndpointView, ...authErrors, ...problems(404) },
      detail: secured('Resume a paused or disabled endpoint (resets its breaker)', tags),
    })
    .post('/:id/rotate-secret', ({ principal, params, body }) => endpoints.rotate(principal, params.id, body?.overlapSeconds), {
      auth: roles,
      params: EndpointIdParams,
      body: RotateBody,
      response: { 200: SecretView, ...authErrors, ...problems(404) },
      detail: secured('Rotate the secret; the old one also signs for the overlap (default 24 h)', tags),
    })
    .post(
      '/:id/test',
      async ({ principal, params, set }) => {
        set.status = 202;
        return deliveries.sendTest(principal, params.id);
      },
      {
        auth: roles,
        params: EndpointIdParams,
        response: { 202: QueuedView, ...authErrors, ...problems(404) },
        detail: secured('Send a webhook.test event', tags),
      },
    )
    .get('/:id/deliveries', ({ principal, params, query }) => deliveries.list(principal, params.id, query), {
      auth: roles,
      params: EndpointIdParams,
      query: DeliveriesQuery,
      response: { 200: MessagePage, ...authErrors, ...problems(404) },
      detail: secured('List deliveries (status, attempts, next attempt), newest first', tags),
    })
    .get('/:id/deliveries/:messageId', ({ principal, params }) => deliveries.get(principal, params.id, params.messageId), {
      auth: roles,
      params: MessageParams,
      response: { 200: MessageDetailView, ...authErrors, ...problems(404) },
      detail: secured('One delivery with every attempt (status code, latency, response body)', tags),
    })
    .post(
      '/:id/deliveries/:messageId/redeliver',
      async ({ principal, params, set }) => {
        set.status = 202;
        return deliveries.redeliver(principal, params.id, params.messageId);
      },
      {
        auth: roles,
        params: MessageParams,
        response: { 202: QueuedView, ...authErrors, ...problems(404) },
        detail: secured('Send one message again', tags),
      },
    )
    .post(
      '/:id/redeliver',
      async ({ principal, params, body, set }) => {
        set.status = 202;
        return deliveries.redeliverFailed(principal, params.id, body.since);
      },
      {
        auth: roles,
        params: EndpointIdParams,
        body: RedeliverBody,
        response: { 202: QueuedView, ...authErrors, ...problems(404) },
        detail: secured('Send every failed message since a time again', tags),
      },
    );
}
