/**
 * Liveness and readiness. `/healthz` says the process is alive; `/readyz` says it can do its job:
 * PostgreSQL, Redis and Kafka all answer. Load balancers and Kubernetes use the second to route.
 */
import { HttpError, type Metrics, problemResponse } from '@orders/platform';
import { Elysia } from 'elysia';
import { GatewayErrorCodes } from '../../error-codes';

export type Check = () => Promise<void>;

export function healthModule(checks: Record<string, Check>, metrics: Metrics, isStopping: () => boolean) {
  return new Elysia({ name: 'health', normalize: false })
    .get('/healthz', () => ({ status: 'ok' }))
    .get('/readyz', async ({ path }) => {
      const results = await Promise.all(
        Object.entries(checks).map(async ([name, check]) => {
          let timer: ReturnType<typeof setTimeout> | undefined;
          try {
            await Promise.race([check(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), 2_000)))]);
            return [name, 'ok'] as const;
          } catch {
            return [name, 'failing'] as const;
          } finally {
            // Each probe's timer ends with it: a flood of probes holds no timers.
            clearTimeout(timer);
          }
        }),
      );
      const status: Record<string, string> = Object.fromEntries(results);
      if (isStopping()) status.process = 'stopping';
      const failing = Object.entries(status).filter(([, s]) => s !== 'ok');
      if (failing.length > 0) {
        return problemResponse(
          new HttpError(503, GatewayErrorCodes.notReady, 'Not ready', `Failing: ${failing.map(([n]) => n).join(', ')}.`, {
            checks: status,
          }),
          path,
        );
      }
      return { status: 'ready', checks: status };
    })
    .get('/metrics', async () => {
      const { body, contentType } = await metrics.render();
      return new Response(body, { headers: { 'content-type': contentType } });
    });
}
