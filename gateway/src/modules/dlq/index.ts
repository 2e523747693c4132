/** HTTP for `/api/v1/admin/dlq`: the dead-letter index, for administrators only (list, read, replay). */
import { Elysia } from 'elysia';
import { authErrors, problems, secured } from '../../openapi';
import type { authPlugin } from '../../plugins/auth';
import { DeadLetterDetailView, DeadLetterIdParams, DeadLetterPage, ListDeadLettersQuery, ReplayResultView } from './model';
import type { DeadLetters } from './service';

const tags = ['admin'];

export function dlqModule(auth: ReturnType<typeof authPlugin>, deadLetters: DeadLetters) {
  return new Elysia({ name: 'admin-dlq', normalize: false, prefix: '/api/v1/admin/dlq' })
    .use(auth)
    .get('/', ({ query }) => deadLetters.list(query), {
      auth: ['admin'],
      query: ListDeadLettersQuery,
      response: { 200: DeadLetterPage, ...authErrors },
      detail: secured('List dead letters, newest first (filter by stage, order, replayed)', tags),
    })
    .get('/:id', ({ params }) => deadLetters.get(params.id), {
      auth: ['admin'],
      params: DeadLetterIdParams,
      response: { 200: DeadLetterDetailView, ...authErrors, ...problems(404) },
      detail: secured('Read a dead letter: its headers and payload (decoded when the codec can)', tags),
    })
    .post('/:id/replay', ({ params, principal }) => deadLetters.replay(principal.userId, params.id), {
      auth: ['admin'],
      params: DeadLetterIdParams,
      response: { 200: ReplayResultView, ...authErrors, ...problems(404, 409) },
      detail: secured(
        'Replay a dead letter to its stage’s retry topic (once: a later replay sends nothing; 409 while one is in progress)',
        tags,
      ),
    });
}
