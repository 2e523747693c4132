/**
 * Composes the gateway: cross-cutting plugins first (errors, request ids and metrics, JSON bodies),
 * then one module per feature. No `listen` here: tests drive the app with `app.handle(request)`.
 */
import type { Logger, Metrics } from '@orders/platform';
import { Elysia } from 'elysia';
import type { GatewayDeps } from './deps';
import type { GatewayEnv } from './env';
import { devTokenModule } from './modules/auth/index';
import { DevTokenService } from './modules/auth/service';
import { healthModule } from './modules/health/index';
import { ordersModule } from './modules/orders/index';
import { OrdersService } from './modules/orders/service';
import { authPlugin } from './plugins/auth';
import { jsonBody } from './plugins/body';
import { errorHandler } from './plugins/errors';
import { observability } from './plugins/observability';

export interface AppContext {
  env: GatewayEnv;
  deps: GatewayDeps;
  logger: Logger;
  metrics: Metrics;
  isStopping: () => boolean;
  /** Shared with shutdown: how many requests are being handled. */
  inflight?: { value: number };
}

export function createApp({ env, deps, logger, metrics, isStopping, inflight }: AppContext) {
  const auth = authPlugin(deps.verify);
  const app = new Elysia({ name: 'gateway', normalize: false })
    .use(errorHandler(logger))
    .use(observability(metrics, inflight))
    .use(jsonBody(env.BODY_LIMIT_BYTES))
    .use(
      healthModule(
        {
          postgres: async () => void (await deps.sql`SELECT 1`),
          redis: async () => void (await deps.redis.ping()),
          kafka: async () => {
            if (!deps.kafka.isConnected()) throw new Error('producer disconnected');
          },
        },
        metrics,
        isStopping,
      ),
    )
    .use(ordersModule(auth, new OrdersService(deps.sql, deps.outbox)));
  if (env.DEV_TOKENS) app.use(devTokenModule(new DevTokenService(deps.sql, deps.sign)));
  return app;
}

export type GatewayApp = ReturnType<typeof createApp>;
