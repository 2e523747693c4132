/**
 * Route documentation helpers: the bearer security requirement and the problem+json answers, so the
 * OpenAPI document says what every route can answer, generated from the same schemas the routes use.
 */
import { t } from 'elysia';
import { Int } from './schema';

export const Problem = t.Object(
  {
    type: t.String(),
    title: t.String(),
    status: Int(),
    code: t.String({ description: 'Stable, machine-readable error code' }),
    detail: t.Optional(t.String()),
    instance: t.Optional(t.String()),
    errors: t.Optional(t.Array(t.Object({ field: t.String(), message: t.String() }))),
  },
  // Problems carry extension members beside the standard ones (`limit`, `skus`, `checks`, …).
  { description: 'RFC 9457 problem details (application/problem+json)', additionalProperties: true },
);

const problems = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, Problem]));

/** Errors every authenticated JSON route may answer (503: its database cannot be reached). */
export const authErrors = problems(400, 401, 403, 413, 415, 429, 503);

export function secured(summary: string, tags: string[], extra: Record<string, unknown> = {}) {
  return { summary, tags, security: [{ bearerAuth: [] }], ...extra };
}

export { problems };
