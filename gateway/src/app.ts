/**
 * Composes the gateway: cross-cutting plugins first (errors, request ids and metrics, JSON bodies),
 * then one module per feature, and the OpenAPI document generated from the routes' own schemas.
 * No `listen` here: tests drive the app with `app.handle(request)`.
 */
import { DestinationPolicy, type Logger, type Metrics, SecretBox } from '@orders/platform';
import { type AnyElysia, Elysia } from 'elysia';
import type { GatewayDeps } from './deps';
import type { GatewayEnv } from './env';
import { adminModule } from './modules/admin/index';
import { authModule, devTokenModule } from './modules/auth/index';
import { AuthService, DevTokenService } from './modules/auth/service';
import { docsPage, openApiDocument } from './modules/docs/index';
import { healthModule } from './modules/health/index';
import { ordersModule } from './modules/orders/index';
import { OrdersService } from './modules/orders/service';
import { productsModule } from './modules/products/index';
import { trackingModule } from './modules/tracking/index';
import { webhooksModule } from './modules/webhooks/index';
import { WebhooksService } from './modules/webhooks/service';
import { authPlugin } from './plugins/auth';
import { jsonBody } from './plugins/body';
import { errorHandler } from './plugins/errors';
import { observability } from './plugins/observability';
import { allowedMethods } from './routes';

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
  const auth = authPlugin(deps.verify, deps.limits);
  const orders = new OrdersService(
    deps.sql,
    deps.products,
    deps.writer,
    deps.outbox,
    env.IDEMPOTENCY_TTL_SECONDS,
    deps.orderCache,
    deps.announce,
  );
  const accounts = new AuthService(
    deps.sql,
    deps.sign,
    {
      maxFailures: env.LOGIN_MAX_FAILURES,
      lockMs: env.LOGIN_LOCK_MS,
      refreshTtlSeconds: env.REFRESH_TOKEN_TTL_SECONDS,
      passwordMemoryKib: env.PASSWORD_MEMORY_KIB,
      passwordTimeCost: env.PASSWORD_TIME_COST,
    },
    deps.sessions,
    logger,
  );
  const webhooks = new WebhooksService(
    deps.sql,
    new SecretBox(env.webhookKey),
    new DestinationPolicy(env.WEBHOOK_ALLOWED_HOSTS, env.DEPLOY_STAGE === 'staging' || env.DEPLOY_STAGE === 'prod'),
    env.WEBHOOK_ROTATION_OVERLAP_SECONDS,
  );
  // Errors and observability come first: Elysia applies a hook only to the routes registered after it,
  // so a route before them was answered outside the in-flight count (which then never came down: a
  // drain that waited out its deadline) and outside the metrics.
  const app: AnyElysia = new Elysia({ name: 'gateway', normalize: false })
    .use(
      errorHandler(
        logger,
        allowedMethods(() => app),
      ),
    )
    .use(observability(metrics, inflight))
    .get('/openapi.json', () => openApiDocument(app))
    .get('/docs', docsPage)
    .use(trackingModule(env.TRACKING_WS_URL))
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
    .use(authModule(auth, accounts, deps.limits))
    .use(productsModule(auth, deps.products))
    .use(ordersModule(auth, orders))
    .use(adminModule(auth, orders))
    .use(webhooksModule(auth, webhooks));
  if (env.DEV_TOKENS) app.use(devTokenModule(auth, new DevTokenService(deps.sql, deps.sign)));
  return app;
}

export type GatewayApp = ReturnType<typeof createApp>;

/**
 * How the gateway listens. Bun's own body cap answers a bare 413 (no body, no content type) before the
 * app sees the request: it is set far above the body plugin's limit, which answers with problem+json
 * and reads no more of a body than that limit (streamed bodies are counted as they arrive), so the cap
 * never decides. Elysia turns SO_REUSEPORT on by default: a stale instance would then share the port
 * silently (and take part of the traffic with its old configuration). One process owns its port; scale
 * out with more containers or pods behind the proxy. `development: false` keeps Bun's error pages out.
 */
export function listenOptions(env: Pick<GatewayEnv, 'HOST' | 'PORT'>) {
  return { hostname: env.HOST, port: env.PORT, maxRequestBodySize: 2 ** 40, reusePort: false, development: false };
}
