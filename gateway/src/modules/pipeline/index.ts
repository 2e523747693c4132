/**
 * HTTP for `/api/v1/admin/pipeline`: the operator view of the order pipeline, for administrators only
 * (overview, stuck orders, one order, re-drive).
 */
import { Elysia } from 'elysia';
import { authErrors, problems, secured } from '../../openapi';
import type { authPlugin } from '../../plugins/auth';
import { traceOf } from '../../plugins/observability';
import { PipelineOrderParams, PipelineOrderView, PipelineOverview, RedriveResultView, StuckPage, StuckQuery } from './model';
import type { PipelineService } from './service';

const tags = ['admin'];

export function pipelineModule(auth: ReturnType<typeof authPlugin>, pipeline: PipelineService) {
  return new Elysia({ name: 'admin-pipeline', normalize: false, prefix: '/api/v1/admin/pipeline' })
    .use(auth)
    .get('/', () => pipeline.overview(), {
      auth: ['admin'],
      response: { 200: PipelineOverview, ...authErrors },
      detail: secured('Orders by status, and per stage how many wait on it, for how long, and how many are stuck', tags),
    })
    .get('/stuck', ({ query }) => pipeline.stuck(query), {
      auth: ['admin'],
      query: StuckQuery,
      response: { 200: StuckPage, ...authErrors },
      detail: secured('Orders waiting on a stage longer than its threshold, oldest first', tags),
    })
    .get('/orders/:id', ({ params }) => pipeline.order(params.id), {
      auth: ['admin'],
      params: PipelineOrderParams,
      response: { 200: PipelineOrderView, ...authErrors, ...problems(404) },
      detail: secured('One order as the pipeline sees it: timeline, last event, dead letters, whether it can be re-driven', tags),
    })
    .post(
      '/orders/:id/redrive',
      async ({ params, principal, request, set }) => {
        const result = await pipeline.redrive(principal.userId, params.id, traceOf(request));
        set.status = 202;
        return result;
      },
      {
        auth: ['admin'],
        params: PipelineOrderParams,
        response: { 202: RedriveResultView, ...authErrors, ...problems(404, 409) },
        detail: secured(
          'Send the event that moved the order into its status again to the waiting stage’s retry topic (409 for a final order or an event no longer recorded)',
          tags,
        ),
      },
    );
}
