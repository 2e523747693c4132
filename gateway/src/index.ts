/** Starts the gateway: configuration, clients, app, listen, graceful shutdown. */
import { createLogger, createMetrics, startTracing } from '@orders/platform';
import type { Server } from 'bun';
import { createApp, listenOptions } from './app';
import { createDeps } from './deps';
import { DeadLetterIndexer } from './dlq/indexer';
import { loadEnv } from './env';
import { startMaintenance } from './maintenance';
import { pipelineService } from './modules/pipeline/service';
import { PipelineWatch } from './modules/pipeline/watch';
import { Retention } from './retention';
import { gatewayShutdown } from './shutdown';

const env = loadEnv(process.env);
const logger = createLogger({ service: 'gateway', level: env.LOG_LEVEL });
const metrics = createMetrics('gateway');
const tracing = await startTracing('gateway', env, { logger, metrics });
const deps = await createDeps(env, logger, metrics);

let server: Server<unknown> | undefined;
const inflight = { value: 0 };
const retention = new Retention(
  deps.sql,
  () => deps.kafka.admin(),
  {
    namespace: env.NAMESPACE,
    dedupMinAgeMs: env.DEDUP_MIN_AGE_MS,
    resendWindowMs: env.DEDUP_RESEND_WINDOW_MS,
    webhookRetentionMs: env.WEBHOOK_RETENTION_MS,
    deadLetterRetentionMs: env.DEAD_LETTER_RETENTION_MS,
    batch: env.RETENTION_BATCH,
    maxBatches: env.RETENTION_MAX_BATCHES,
  },
  logger,
  metrics,
);
const stopMaintenance = startMaintenance(retention, logger, env.RETENTION_INTERVAL_MS);
// One service for the API and the watch: they share its overview read (one scan of orders per interval).
const pipeline = pipelineService(env, deps, logger);
const stopPipelineWatch = new PipelineWatch(() => pipeline.overview(), metrics, logger).start(env.PIPELINE_WATCH_INTERVAL_MS);
const indexer = env.DLQ_INDEXER_ENABLED
  ? new DeadLetterIndexer({
      sql: deps.sql,
      brokers: env.KAFKA_BROKERS,
      clientId: env.KAFKA_CLIENT_ID,
      namespace: env.NAMESPACE,
      logger,
      metrics,
    })
  : undefined;
const shutdown = gatewayShutdown({
  logger,
  timeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  server: () => server,
  deps,
  inflight,
  stopMaintenance,
  stopPipelineWatch,
  stopIndexer: async () => indexer?.stop(),
});
// Last: the spans of everything drained above go out too (bounded: the backend may be gone).
shutdown.add('flush traces', () => tracing.shutdown(2_000));
const app = createApp({ env, deps, logger, metrics, isStopping: () => shutdown.stopping, inflight, pipeline });
app.listen(listenOptions(env));
server = app.server ?? undefined;
deps.outbox.start();
indexer?.start();
shutdown.listen();
logger.info(
  { url: `http://${env.HOST}:${server?.port}`, stage: env.DEPLOY_STAGE, namespace: env.NAMESPACE || undefined },
  'gateway listening',
);
