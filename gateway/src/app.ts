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
import { DevTokenService } from './modules/auth/dev-tokens';
import { authModule, devTokenModule } from './modules/auth/index';
import { AuthService } from './modules/auth/service';
import { SessionService } from './modules/auth/sessions';
import { dlqModule } from './modules/dlq/index';
import { DeadLetters } from './modules/dlq/service';
import { docsPage, openApiDocument } from './modules/docs/index';
import { healthModule } from './modules/health/index';
import { operatorModule } from './modules/operator/index';
import { OrderCommands } from './modules/orders/commands';
import { ordersModule } from './modules/orders/index';
import { OrderQueries } from './modules/orders/queries';
import { pipelineModule } from './modules/pipeline/index';
import { type PipelineService, pipelineService } from './modules/pipeline/service';
import { portalModule } from './modules/portal/index';
import { productsModule } from './modules/products/index';
import { trackingModule } from './modules/tracking/index';
import { WebhookDeliveries } from './modules/webhooks/deliveries';
import { WebhookEndpoints } from './modules/webhooks/endpoints';
import { webhooksModule } from './modules/webhooks/index';
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
  /** Shared with the pipeline watch (index.ts), so both use one overview read; built here when absent. */
  pipeline?: PipelineService;
}

export function createApp({ env, deps, logger, metrics, isStopping, inflight, pipeline }: AppContext) {
  const auth = authPlugin(deps.verify, deps.limits);
  const orderCommands = new OrderCommands(
    deps.sql,
    deps.products,
    deps.writer,
    deps.outbox,
    env.IDEMPOTENCY_TTL_SECONDS,
    deps.orderCache,
    deps.announce,
  );
  const orderQueries = new OrderQueries(deps.sql, deps.orderCache);
  const sessions = new SessionService(deps.sql, deps.sign, env.REFRESH_TOKEN_TTL_SECONDS, deps.sessions, logger);
  const accounts = new AuthService(
    deps.sql,
    {
      maxFailures: env.LOGIN_MAX_FAILURES,
      lockMs: env.LOGIN_LOCK_MS,
      passwordMemoryKib: env.PASSWORD_MEMORY_KIB,
      passwordTimeCost: env.PASSWORD_TIME_COST,
    },
    sessions,
  );
  const webhookEndpoints = new WebhookEndpoints(
    deps.sql,
    new SecretBox(env.webhookKey),
    new DestinationPolicy(env.WEBHOOK_ALLOWED_HOSTS, env.DEPLOY_STAGE === 'staging' || env.DEPLOY_STAGE === 'prod'),
    env.WEBHOOK_ROTATION_OVERLAP_SECONDS,
    logger,
  );
  const webhookDeliveries = new WebhookDeliveries(deps.sql);
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
    .use(portalModule())
    .use(operatorModule())
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
    .use(authModule(auth, accounts, sessions, deps.limits))
    .use(productsModule(auth, deps.products))
    .use(ordersModule(auth, orderCommands, orderQueries))
    .use(adminModule(auth, orderCommands, orderQueries))
    .use(dlqModule(auth, new DeadLetters(deps.sql, deps.kafka.producer, deps.codec, env.NAMESPACE)))
    .use(pipelineModule(auth, pipeline ?? pipelineService(env, deps, logger)))
    .use(webhooksModule(auth, webhookEndpoints, webhookDeliveries));
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
