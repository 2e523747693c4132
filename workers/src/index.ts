/**
 * Starts the worker stages named in WORKER_STAGES (all of them in one process by default), each as its
 * own consumer group, sharing one PostgreSQL pool, one Redis connection and one producer.
 */
import { EventCodec, schemaRegistryFor } from '@orders/contracts';
import {
  createLogger,
  createMetrics,
  createPostgres,
  createRedisClient,
  DestinationPolicy,
  feedKeys,
  SecretBox,
  StatusFeedPublisher,
  startTracing,
} from '@orders/platform';
import { loadEnv } from './env';
import { assembleStage } from './runtime/assemble';
import { startHttp } from './runtime/http';
import { createProducer, threadPoolNeeded } from './runtime/kafka';
import { stageMetrics } from './runtime/metrics';
import type { StageRunner } from './runtime/runner';
import { workersShutdown } from './shutdown';
import { createStages } from './stages/index';
import { PaymentProvider } from './stages/payment/provider';
import { FraudScorer } from './stages/validator/fraud/pool';
import { WebhookSender } from './stages/webhooks/sender';

const env = loadEnv(process.env);
const logger = createLogger({ service: 'workers', level: env.LOG_LEVEL });
const metrics = createMetrics('workers');
const tracing = await startTracing('workers', env, { logger, metrics });

// Two consumers per stage (its topics and its retry topic), each waiting on a pool thread.
const poolNeeded = threadPoolNeeded(env.stages.length * 2);
if (env.UV_THREADPOOL_SIZE < poolNeeded) {
  logger.warn(
    { UV_THREADPOOL_SIZE: env.UV_THREADPOOL_SIZE, needed: poolNeeded },
    'the libuv thread pool is smaller than the consumers need: they will wait on each other (set UV_THREADPOOL_SIZE in the environment)',
  );
}

const sql = createPostgres({ url: env.DATABASE_URL, max: env.DATABASE_POOL_MAX, applicationName: 'orders-workers' });
const redis = createRedisClient({ url: env.REDIS_URL, clusterNodes: env.REDIS_CLUSTER_NODES, connectionName: 'orders-workers' });
const registry = schemaRegistryFor(env.SCHEMA_REGISTRY_URL || undefined);
const codec = new EventCodec(registry);
await codec.prepare();
const kafkaSettings = {
  brokers: env.KAFKA_BROKERS,
  clientId: env.KAFKA_CLIENT_ID,
  sessionTimeoutMs: env.KAFKA_SESSION_TIMEOUT_MS,
  maxPollIntervalMs: env.KAFKA_MAX_POLL_INTERVAL_MS,
};
const producer = await createProducer(kafkaSettings);
const feed = new StatusFeedPublisher(redis, feedKeys(env.NAMESPACE), {
  maxlen: env.STATUS_FEED_MAXLEN,
  ttlSeconds: env.STATUS_FEED_TTL_SECONDS,
});
const sm = stageMetrics(metrics);

const scorer = new FraudScorer(env.stages.includes('validator') ? env.FRAUD_THREADS : 0);
await scorer.warmUp();
const stages = createStages({
  sql,
  scorer,
  provider: new PaymentProvider({
    url: env.PAYMENT_PROVIDER_URL,
    timeoutMs: env.PAYMENT_PROVIDER_TIMEOUT_MS,
    maxSockets: env.PAYMENT_CONCURRENCY,
  }),
  fraudRejectThreshold: env.FRAUD_REJECT_THRESHOLD,
  paymentConcurrency: env.PAYMENT_CONCURRENCY,
  catalogueTtlMs: env.CATALOGUE_CACHE_MS,
});
const runners: StageRunner[] = [];
for (const name of env.stages) {
  runners.push(
    ...(await assembleStage(stages[name], {
      sql,
      codec,
      producer,
      feed,
      logger,
      metrics: sm,
      kafka: kafkaSettings,
      namespace: env.NAMESPACE,
      batchSize: env.KAFKA_BATCH_SIZE,
      maxBuffered: env.KAFKA_MAX_BUFFERED,
      concurrentBatches: env.KAFKA_CONCURRENT_BATCHES,
      consumeTimeoutMs: env.KAFKA_CONSUME_TIMEOUT_MS,
      maxRetries: env.RETRY_MAX_ATTEMPTS,
      retryBaseMs: env.RETRY_BASE_MS,
      retryMaxMs: env.RETRY_MAX_MS,
    })),
  );
}

// The webhook dispatcher's sending side runs beside the fan-out stage that fills its queue.
const sender = env.stages.includes('webhooks')
  ? new WebhookSender({
      sql,
      box: new SecretBox(env.webhookKey),
      policy: new DestinationPolicy(env.WEBHOOK_ALLOWED_HOSTS, env.DEPLOY_STAGE === 'staging' || env.DEPLOY_STAGE === 'prod'),
      logger: logger.child({ component: 'webhook-sender' }),
      metrics,
      timeScale: env.WEBHOOK_TIME_SCALE,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      concurrency: env.WEBHOOK_CONCURRENCY,
      maxInFlightPerEndpoint: env.WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT,
      pollMs: env.WEBHOOK_POLL_MS,
      breakerFailures: env.WEBHOOK_BREAKER_FAILURES,
      breakerCooldownMs: env.WEBHOOK_BREAKER_COOLDOWN_MS,
      disableAfterFailures: env.WEBHOOK_DISABLE_AFTER_FAILURES,
      disableAfterMs: env.WEBHOOK_DISABLE_AFTER_MS,
    })
  : undefined;

const http = await startHttp({
  host: env.METRICS_HOST,
  port: env.METRICS_PORT,
  metrics,
  ready: () => ({
    producer: producer.isConnected(),
    ...Object.fromEntries(runners.map((r) => [r.name, r.isAssigned()])),
  }),
});
const shutdown = workersShutdown({ logger, timeoutMs: env.SHUTDOWN_TIMEOUT_MS, runners, producer, redis, sql, http, scorer, sender });
// Last: the spans of everything drained above go out too (bounded: the backend may be gone).
shutdown.add('flush traces', () => tracing.shutdown(2_000));
shutdown.listen();
for (const r of runners) r.start();
await sender?.start();
logger.info(
  { stages: env.stages, registry: registry.describe, metrics: `http://${env.METRICS_HOST}:${env.METRICS_PORT}/metrics` },
  'workers running',
);
