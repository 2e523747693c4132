/**
 * Builds the gateway's clients from its configuration: PostgreSQL pool, Redis, the Kafka producer, the
 * event codec (schema ids resolved up front), token verifier and signer.
 */
import { EventCodec, namespaced, schemaRegistryFor, Topics } from '@orders/contracts';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  createPostgres,
  createRedisClient,
  createSigner,
  createVerifier,
  feedKeys,
  type Logger,
  type Metrics,
  parsePublicKeySet,
  parseSigningKey,
  RateLimiter,
  serviceRevokedSessions,
} from '@orders/platform';
import type { GatewayEnv } from './env';
import { invalidationChannel, OrderCache, subscribeInvalidations } from './modules/orders/cache';
import { OrderWriter } from './modules/orders/writer';
import { ProductsService } from './modules/products/service';
import { createProducer } from './outbox/producer';
import { OutboxPublisher } from './outbox/publisher';

export async function createDeps(env: GatewayEnv, logger: Logger, metrics: Metrics) {
  const sql = createPostgres({
    url: env.DATABASE_URL,
    max: env.DATABASE_POOL_MAX,
    applicationName: 'orders-gateway',
    statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
    connectTimeoutSeconds: env.DATABASE_CONNECT_TIMEOUT_MS / 1000,
    queueTimeoutMs: env.DATABASE_QUEUE_TIMEOUT_MS,
  });
  const redis = createRedisClient({ url: env.REDIS_URL, clusterNodes: env.REDIS_CLUSTER_NODES, connectionName: 'orders-gateway' });
  const jwt = { issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE };
  // Sessions ended by logout or a reused refresh token: refused at once, by a lookup in memory.
  const sessions = serviceRevokedSessions({
    redis,
    redisUrl: env.REDIS_URL,
    clusterNodes: env.REDIS_CLUSTER_NODES,
    namespace: env.NAMESPACE,
    service: 'gateway',
    logger,
    metrics,
  });
  sessions.start();
  const verify = createVerifier(jwt, parsePublicKeySet(env.jwtPublicKeys), { isRevoked: (sid) => sessions.has(sid) });
  const sign = await createSigner({ ...jwt, ttlSeconds: ACCESS_TOKEN_TTL_SECONDS }, parseSigningKey(env.jwtSigningKey));
  const registry = schemaRegistryFor(env.SCHEMA_REGISTRY_URL || undefined);
  const codec = new EventCodec(registry);
  await codec.prepare();
  logger.info({ registry: registry.describe }, 'event schemas ready');
  const kafka = createProducer({ brokers: env.KAFKA_BROKERS, clientId: env.KAFKA_CLIENT_ID, logger });
  await kafka.producer.connect();
  const outbox = new OutboxPublisher({
    sql,
    producer: kafka.producer,
    codec,
    topic: namespaced(Topics.orderEvents, env.NAMESPACE),
    batchSize: env.OUTBOX_BATCH_SIZE,
    sweepIntervalMs: env.OUTBOX_SWEEP_INTERVAL_MS,
    lingerMs: env.OUTBOX_LINGER_MS,
    logger,
    metrics,
  });
  const batchSize = metrics.histogram('order_batch_size', 'Orders per group-commit transaction', [], [1, 2, 4, 8, 16, 32, 64, 128, 256]);
  const writer = new OrderWriter(sql, {
    maxBatch: env.ORDER_BATCH_MAX,
    concurrency: env.ORDER_WRITE_CONCURRENCY,
    onBatch: (size) => batchSize.observe(size),
  });
  const products = new ProductsService(sql, env.CATALOGUE_CACHE_MS);
  const orderCache = new OrderCache(env.ORDER_CACHE_TTL_MS, env.ORDER_CACHE_MAX_ENTRIES, metrics);
  const cacheFeed = subscribeInvalidations({
    cache: orderCache,
    url: env.REDIS_URL,
    clusterNodes: env.REDIS_CLUSTER_NODES,
    feed: feedKeys(env.NAMESPACE),
    namespace: env.NAMESPACE,
    logger,
  });
  const channel = invalidationChannel(env.NAMESPACE);
  const announce = (id: string, version: number) => {
    redis.publish(channel, `${id} ${version}`).catch((err) => logger.warn({ err, orderId: id }, 'cache invalidation not announced'));
  };
  const limits = env.RATE_LIMIT_ENABLED
    ? {
        limiter: new RateLimiter({
          redis,
          algorithm: env.rateLimits.algorithm,
          namespace: env.NAMESPACE,
          timeoutMs: env.RATE_LIMIT_TIMEOUT_MS,
          metrics,
          logger,
        }),
        policy: env.rateLimits,
        trustedProxies: env.trustedProxies,
      }
    : undefined;
  return { sql, redis, verify, sign, sessions, codec, kafka, outbox, writer, products, orderCache, cacheFeed, announce, limits };
}

export type GatewayDeps = Awaited<ReturnType<typeof createDeps>>;
