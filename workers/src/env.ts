/**
 * The workers' configuration, parsed once at start-up. Nothing else in the workers reads `process.env`.
 */
import {
  ConfigError,
  commonSpec,
  databaseSpec,
  fromInlineOrFile,
  int,
  kafkaSpec,
  list,
  num,
  parseEnv,
  port,
  redisSpec,
  str,
  tracingSpec,
  url,
  webhookSpec,
} from '@orders/platform';

export const STAGE_NAMES = ['validator', 'payment', 'inventory', 'fulfillment', 'projector', 'webhooks'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

const spec = {
  ...commonSpec,
  /** Which stages this process runs: a comma list, or `all` (the local default: one process). */
  WORKER_STAGES: list({ default: ['all'] }),
  ...databaseSpec,
  DATABASE_POOL_MAX: int({ default: 10, min: 1, max: 200 }),
  ...redisSpec,
  ...kafkaSpec('orders-workers'),
  KAFKA_SESSION_TIMEOUT_MS: int({ default: 10_000, min: 1_000 }),
  KAFKA_MAX_POLL_INTERVAL_MS: int({ default: 300_000, min: 10_000 }),
  /** Most messages one pipeline run takes (one transaction, one INSERT of claims), across partitions. */
  KAFKA_BATCH_SIZE: int({ default: 500, min: 1, max: 10_000 }),
  /** Batches of one stage in flight at once, over disjoint partitions (see workers/src/runtime/runner.ts). */
  KAFKA_CONCURRENT_BATCHES: int({ default: 1, min: 1, max: 64 }),
  /** Most messages a consumer holds fetched and not yet done, across its partitions (backpressure). */
  KAFKA_MAX_BUFFERED: int({ default: 2_000, min: 1, max: 100_000 }),
  /** Longest a consumer waits for its next message in one call (it returns at once when one is there). */
  KAFKA_CONSUME_TIMEOUT_MS: int({ default: 200, min: 10, max: 10_000 }),
  /**
   * libuv's thread pool, read by Node itself at its first use (so it must be in the environment the
   * process starts with): each consumer holds a thread while it waits for messages. Read here only to
   * warn when it is too small for the stages this process runs.
   */
  UV_THREADPOOL_SIZE: int({ default: 4, min: 1, max: 1_024 }),
  /** Retries through the retry topic before a failing event is dead-lettered, and their backoff. */
  RETRY_MAX_ATTEMPTS: int({ default: 5, min: 0, max: 50 }),
  RETRY_BASE_MS: int({ default: 500, min: 1 }),
  RETRY_MAX_MS: int({ default: 60_000, min: 1 }),
  /** Fraud scoring threads (Tinypool); 0 scores on the main thread (only for comparison). */
  FRAUD_THREADS: int({ default: 1, min: 0, max: 64 }),
  /** Orders scoring above this are refused as suspected fraud. */
  FRAUD_REJECT_THRESHOLD: num({ default: 0.97, above: 0, max: 1 }),
  CATALOGUE_CACHE_MS: int({ default: 1_000, min: 0 }),
  /** Per-user status feed in Redis (what a reconnecting client resumes from): updates kept, idle lifetime. */
  STATUS_FEED_MAXLEN: int({ default: 1_000, min: 10, max: 100_000 }),
  STATUS_FEED_TTL_SECONDS: int({ default: 24 * 3600, min: 60 }),
  PAYMENT_PROVIDER_URL: url({ protocols: ['http:', 'https:'], default: 'http://127.0.0.1:8070' }),
  PAYMENT_PROVIDER_TIMEOUT_MS: int({ default: 2_000, min: 10 }),
  /** Provider calls in flight at once per process. */
  PAYMENT_CONCURRENCY: int({ default: 128, min: 1, max: 1_000 }),
  ...webhookSpec,
  /** Multiplies the retry schedule, breaker cool-down and disable window (1 = real time; tests use less). */
  WEBHOOK_TIME_SCALE: num({ default: 1, above: 0, max: 1 }),
  WEBHOOK_TIMEOUT_MS: int({ default: 10_000, min: 100, max: 60_000 }),
  /** Attempts in flight per dispatcher, and per endpoint across dispatchers. */
  WEBHOOK_CONCURRENCY: int({ default: 64, min: 1, max: 10_000 }),
  WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT: int({ default: 4, min: 1, max: 1_000 }),
  WEBHOOK_POLL_MS: int({ default: 1_000, min: 10 }),
  /** The breaker: consecutive failures that pause an endpoint, and for how long (then one at a time). */
  WEBHOOK_BREAKER_FAILURES: int({ default: 5, min: 1 }),
  WEBHOOK_BREAKER_COOLDOWN_MS: int({ default: 60_000, min: 0 }),
  /** Auto-disable: this many consecutive failures, failing for at least this long (5 days). */
  WEBHOOK_DISABLE_AFTER_FAILURES: int({ default: 50, min: 1 }),
  WEBHOOK_DISABLE_AFTER_MS: int({ default: 5 * 24 * 3_600_000, min: 0 }),
  METRICS_HOST: str({ default: '127.0.0.1' }),
  METRICS_PORT: port({ default: 9400 }),
  // OpenTelemetry tracing: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (platform/src/tracing).
  ...tracingSpec,
};

export function loadEnv(source: Record<string, string | undefined>) {
  const env = parseEnv(spec, source);
  const stages = env.WORKER_STAGES.includes('all') ? [...STAGE_NAMES] : env.WORKER_STAGES;
  const unknown = stages.filter((s) => !(STAGE_NAMES as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new ConfigError([`WORKER_STAGES names unknown stages: ${unknown.join(', ')} (known: ${STAGE_NAMES.join(', ')}, all)`]);
  const problems: string[] = [];
  const webhookKey = stages.includes('webhooks')
    ? fromInlineOrFile(env.WEBHOOK_SECRET_KEY, env.WEBHOOK_SECRET_KEY_FILE, 'WEBHOOK_SECRET_KEY', problems)
    : '';
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...env, stages: stages as StageName[], webhookKey };
}
