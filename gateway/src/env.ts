/**
 * The gateway's whole configuration, parsed and validated once at start-up. Nothing else in the
 * gateway reads `process.env`.
 */
import {
  bool,
  ConfigError,
  clientFacingSpec,
  commonSpec,
  databaseSpec,
  fromInlineOrFile,
  int,
  jwtVerifySpec,
  kafkaSpec,
  listenSpec,
  loadRateLimitPolicy,
  optionalStr,
  parseEnv,
  parseTrustedProxies,
  redisSpec,
  tracingSpec,
  webhookSpec,
} from '@orders/platform';
import { parseStuckThresholds } from './modules/pipeline/stages';

const spec = {
  ...commonSpec,
  ...listenSpec(8080),
  ...databaseSpec,
  /**
   * Connections per gateway process. postgres.js pipelines queries on each connection, so a few go a
   * long way: in a one-off test on 2 cores (not in the benchmarks) 4 connections served 31k simple
   * queries/s, 20 only 19k (more backends competing for the same cores). Group-commit transactions hold one each (ORDER_WRITE_CONCURRENCY).
   */
  DATABASE_POOL_MAX: int({ default: 8, min: 1, max: 500 }),
  DATABASE_STATEMENT_TIMEOUT_MS: int({ default: 5_000, min: 0 }),
  /** How long a request waits for a database connection before it is answered 503 (not the default 30 s). */
  DATABASE_CONNECT_TIMEOUT_MS: int({ default: 2_000, min: 100, max: 60_000 }),
  /** A query waiting this long for a connection (the database unreachable) fails: a 503, never a hung request. */
  DATABASE_QUEUE_TIMEOUT_MS: int({ default: 3_000, min: 0, max: 120_000 }),
  ...redisSpec,
  ...kafkaSpec('orders-gateway'),
  ...jwtVerifySpec,
  /** The active private signing key as a JWK with a kid (inline or JWT_SIGNING_KEY_FILE). */
  JWT_SIGNING_KEY: { ...optionalStr(), secret: true },
  JWT_SIGNING_KEY_FILE: optionalStr(),
  BODY_LIMIT_BYTES: int({ default: 64 * 1024, min: 1_024, max: 10 * 1024 * 1024 }),
  OUTBOX_BATCH_SIZE: int({ default: 200, min: 1, max: 5_000 }),
  OUTBOX_SWEEP_INTERVAL_MS: int({ default: 1_000, min: 50 }),
  OUTBOX_LINGER_MS: int({ default: 5, min: 0, max: 1_000 }),
  /** Consecutive failed logins that lock an account, and for how long. */
  LOGIN_MAX_FAILURES: int({ default: 5, min: 1, max: 100 }),
  LOGIN_LOCK_MS: int({ default: 15 * 60_000, min: 1_000 }),
  REFRESH_TOKEN_TTL_SECONDS: int({ default: 30 * 24 * 3600, min: 60 }),
  /** argon2id cost (Bun.password): memory in KiB and iterations. */
  PASSWORD_MEMORY_KIB: int({ default: 19_456, min: 1_024 }),
  PASSWORD_TIME_COST: int({ default: 2, min: 1, max: 10 }),
  IDEMPOTENCY_TTL_SECONDS: int({ default: 24 * 3600, min: 24 * 3600 }),
  /** Group commit: orders per transaction at most, and transactions in flight at once. */
  ORDER_BATCH_MAX: int({ default: 128, min: 1, max: 1_000 }),
  ORDER_WRITE_CONCURRENCY: int({ default: 2, min: 1, max: 64 }),
  /** How long a product's price and availability may be served from memory (0: always read). */
  CATALOGUE_CACHE_MS: int({ default: 1_000, min: 0, max: 60_000 }),
  /** Read cache for GET /orders/:id (0 disables): the worst-case staleness when Redis is unreachable. */
  ORDER_CACHE_TTL_MS: int({ default: 2_000, min: 0, max: 60_000 }),
  ORDER_CACHE_MAX_ENTRIES: int({ default: 100_000, min: 100 }),
  /** Retention (gateway/src/retention.ts): how often it runs, and what it keeps. */
  RETENTION_INTERVAL_MS: int({ default: 60_000, min: 100 }),
  /** Dedup records are kept at least this long, and until the stage has committed past it. */
  DEDUP_MIN_AGE_MS: int({ default: 3_600_000, min: 1_000 }),
  /** How long after an event's first send a producer may still send a copy of it (outbox, re-emits). */
  DEDUP_RESEND_WINDOW_MS: int({ default: 900_000, min: 1_000 }),
  /** Finished webhook messages and their attempts (the delivery log customers browse). */
  WEBHOOK_RETENTION_MS: int({ default: 7 * 24 * 3_600_000, min: 1_000 }),
  /** Indexed dead letters (replayed or not); longer than the dead-letter topics keep them (a month). */
  DEAD_LETTER_RETENTION_MS: int({ default: 90 * 24 * 3_600_000, min: 1_000 }),
  /** Rows per delete statement, and statements per table per run. */
  RETENTION_BATCH: int({ default: 5_000, min: 1, max: 100_000 }),
  RETENTION_MAX_BATCHES: int({ default: 20, min: 1, max: 1_000 }),
  // TRUSTED_PROXIES and RATE_LIMIT_ENABLED, as for the WebSocket edge.
  ...clientFacingSpec,
  /** A limiter call slower than this is answered by the in-memory fallback (login: refused). */
  RATE_LIMIT_TIMEOUT_MS: int({ default: 50, min: 1, max: 5_000 }),
  ...webhookSpec,
  /** How long a rotated-out secret keeps signing by default. */
  WEBHOOK_ROTATION_OVERLAP_SECONDS: int({ default: 24 * 3600, min: 0, max: 7 * 24 * 3600 }),
  /** The dead-letter indexer (gateway/src/dlq/indexer.ts): off, no gateway fills the admin DLQ index. */
  DLQ_INDEXER_ENABLED: bool({ default: true }),
  /** The pipeline view (modules/pipeline): an order waiting on a stage longer than this is stuck. */
  PIPELINE_STUCK_AFTER_MS: int({ default: 60_000, min: 1 }),
  /** Per-stage overrides of that threshold: `payment=120000,fulfillment=300000` (stages: validator, payment, inventory, fulfillment). */
  PIPELINE_STUCK_THRESHOLDS: optionalStr(),
  /** How often the gateway refreshes the orders_stuck gauges (one scan of orders each time); 0: never. */
  PIPELINE_WATCH_INTERVAL_MS: int({ default: 15_000, min: 0 }),
  /** Where the tracking page (/track) finds the WebSocket edge; unset: `/ws/orders` on the page's own origin. */
  TRACKING_WS_URL: optionalStr(),
  /** The dev-only token endpoint (`POST /api/v1/auth/dev-token`); refused outside DEPLOY_STAGE=dev. */
  DEV_TOKENS: bool({ default: false }),
  // OpenTelemetry tracing: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (platform/src/tracing).
  ...tracingSpec,
};

export type GatewayEnv = ReturnType<typeof loadEnv>;

export function loadEnv(source: Record<string, string | undefined>) {
  const env = parseEnv(spec, source);
  const rateLimits = loadRateLimitPolicy(source);
  const problems: string[] = [];
  const jwtPublicKeys = fromInlineOrFile(env.JWT_PUBLIC_KEYS, env.JWT_PUBLIC_KEYS_FILE, 'JWT_PUBLIC_KEYS', problems);
  const trustedProxies = parseTrustedProxies(env.TRUSTED_PROXIES, problems);
  if (env.TRACKING_WS_URL && !/^wss?:\/\/[^\s"'<>]+$/.test(env.TRACKING_WS_URL))
    problems.push('TRACKING_WS_URL must be a ws:// or wss:// URL');
  const webhookKey = fromInlineOrFile(env.WEBHOOK_SECRET_KEY, env.WEBHOOK_SECRET_KEY_FILE, 'WEBHOOK_SECRET_KEY', problems);
  const jwtSigningKey = fromInlineOrFile(env.JWT_SIGNING_KEY, env.JWT_SIGNING_KEY_FILE, 'JWT_SIGNING_KEY', problems);
  if (env.DEV_TOKENS && env.DEPLOY_STAGE !== 'dev' && env.DEPLOY_STAGE !== 'test')
    problems.push(`DEV_TOKENS must stay off outside dev (DEPLOY_STAGE is ${env.DEPLOY_STAGE})`);
  const pipelineThresholds = parseStuckThresholds(env.PIPELINE_STUCK_AFTER_MS, env.PIPELINE_STUCK_THRESHOLDS, problems);
  // Each refresh scans orders (no index on status, on purpose): a second apart at the least.
  if (env.PIPELINE_WATCH_INTERVAL_MS > 0 && env.PIPELINE_WATCH_INTERVAL_MS < 1_000)
    problems.push('PIPELINE_WATCH_INTERVAL_MS must be 0 (off) or at least 1000');
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...env, jwtPublicKeys, jwtSigningKey, webhookKey, rateLimits, trustedProxies, pipelineThresholds };
}
