/** Starts the gateway: configuration, clients, app, listen, graceful shutdown. */
import { createLogger, createMetrics } from '@orders/platform';
import type { Server } from 'bun';
import { createApp } from './app';
import { createDeps } from './deps';
import { loadEnv } from './env';
import { startMaintenance } from './maintenance';
import { gatewayShutdown } from './shutdown';

const env = loadEnv(process.env);
const logger = createLogger({ service: 'gateway', level: env.LOG_LEVEL });
const metrics = createMetrics('gateway');
const deps = await createDeps(env, logger, metrics);

let server: Server<unknown> | undefined;
const inflight = { value: 0 };
const stopMaintenance = startMaintenance(deps.sql, logger);
const shutdown = gatewayShutdown({ logger, timeoutMs: env.SHUTDOWN_TIMEOUT_MS, server: () => server, deps, inflight, stopMaintenance });
const app = createApp({ env, deps, logger, metrics, isStopping: () => shutdown.stopping, inflight });
// The hard cap only guards memory against absurd uploads; the body plugin answers 413 below it.
// Elysia turns SO_REUSEPORT on by default: a stale instance would then share the port silently (and
// take part of the traffic with its old configuration). One process owns its port; scale out with more
// containers or pods behind the proxy. `development: false` keeps Bun's error pages out of answers.
app.listen({
  hostname: env.HOST,
  port: env.PORT,
  maxRequestBodySize: env.BODY_LIMIT_BYTES * 16,
  reusePort: false,
  development: false,
});
server = app.server ?? undefined;
deps.outbox.start();
shutdown.listen();
logger.info({ url: `http://${env.HOST}:${server?.port}`, stage: env.STAGE, namespace: env.NAMESPACE || undefined }, 'gateway listening');
