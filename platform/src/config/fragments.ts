/**
 * The configuration the services share, declared once: each service's `env.ts` spreads the fragments it
 * needs into its own spec, so a variable has one name, one default and one validation everywhere.
 */
import { bool, int, list, num, oneOf, optionalStr, port, renamedFrom, str, url } from './env';

/** Fields almost every service has. */
export const commonSpec = {
  /**
   * The deployment stage. Defaults to prod: whatever is refused in production stays refused unless a
   * stage says otherwise. Formerly `STAGE`, renamed so it is not mistaken for the workers' pipeline
   * stages (WORKER_STAGES); a deployment still setting only `STAGE` fails at start-up.
   */
  DEPLOY_STAGE: renamedFrom('STAGE', oneOf(['dev', 'test', 'staging', 'prod'] as const, { default: 'prod' })),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, { default: 'info' }),
  /** Prefix for Kafka topics and groups and Redis keys, so a test run never mixes with the dev stack. */
  NAMESPACE: str({ default: '', pattern: /^([a-z][a-z0-9-]{0,30})?$/ }),
  SHUTDOWN_TIMEOUT_MS: int({ default: 15_000, min: 100 }),
};

/** Where an HTTP service listens: loopback unless told otherwise. */
export function listenSpec(defaultPort: number) {
  return {
    HOST: str({ default: '127.0.0.1' }),
    PORT: port({ default: defaultPort }),
  };
}

export const databaseSpec = {
  DATABASE_URL: url({ protocols: ['postgres:', 'postgresql:'], secret: true }),
};

export const redisSpec = {
  REDIS_URL: url({ protocols: ['redis:', 'rediss:'], default: 'redis://127.0.0.1:6379' }),
  /** Redis Cluster seed nodes (host:port, comma-separated); when set, REDIS_URL is not used. */
  REDIS_CLUSTER_NODES: list({ default: [], minItems: 0 }),
};

/** The brokers, this service's client id (its name in broker logs and quotas), and the schema registry. */
export function kafkaSpec(defaultClientId: string) {
  return {
    KAFKA_BROKERS: list({ default: ['127.0.0.1:9092'] }),
    KAFKA_CLIENT_ID: str({ default: defaultClientId }),
    SCHEMA_REGISTRY_URL: optionalStr(),
  };
}

/** What verifying access tokens takes (the gateway adds its signing key). */
export const jwtVerifySpec = {
  JWT_ISSUER: str({ default: 'order-platform' }),
  JWT_AUDIENCE: str({ default: 'order-platform-api' }),
  /** JWKS JSON of the public keys tokens may be signed with (inline, or a file path in JWT_PUBLIC_KEYS_FILE). */
  JWT_PUBLIC_KEYS: optionalStr(),
  JWT_PUBLIC_KEYS_FILE: optionalStr(),
};

/** Shared by the gateway (registration) and the dispatcher (delivery). */
export const webhookSpec = {
  /** The key webhook secrets are sealed with (32 bytes, base64; inline or a file): the same in both. */
  WEBHOOK_SECRET_KEY: { ...optionalStr(), secret: true },
  WEBHOOK_SECRET_KEY_FILE: optionalStr(),
  /** Hosts (as written in URLs) allowed to resolve to private addresses: local development and tests only. */
  WEBHOOK_ALLOWED_HOSTS: list({ default: [], minItems: 0 }),
};

/** What a service that clients reach directly (the gateway, the WebSocket edge) needs. */
export const clientFacingSpec = {
  /** Peers whose X-Forwarded-For is believed (the load balancer): addresses or CIDR ranges; nobody's by default. */
  TRUSTED_PROXIES: list({ default: [], minItems: 0 }),
  /** Rate limiting (the limits themselves: RATE_LIMIT_* and RATE_LIMITS_FILE, see platform/ratelimit/config.ts). */
  RATE_LIMIT_ENABLED: bool({ default: true }),
};

/**
 * Tracing (platform/src/tracing): OpenTelemetry spans sent over OTLP/HTTP, off (no SDK at all) while no
 * endpoint is set. OpenTelemetry's own variable names, so a collector's or an operator's habits apply;
 * the two times are in milliseconds, as the OpenTelemetry spec has them.
 */
export const tracingSpec = {
  /** The OTLP/HTTP base URL (spans go to `<url>/v1/traces`), e.g. the local Jaeger's `http://127.0.0.1:4318`. */
  OTEL_EXPORTER_OTLP_ENDPOINT: url({ protocols: ['http:', 'https:'], default: '' }),
  /** `service.name` in the backend; empty: the service's own name (gateway, workers). */
  OTEL_SERVICE_NAME: optionalStr(),
  /**
   * Share of new traces recorded (parent-based: a request that arrives with a `traceparent` follows its
   * sampled flag, and so does every hop downstream). 0.1 by default: recording every request cost the
   * gateway's cheapest one (a cached read) more than the 5 % budget, one in ten costs ~1 %. The local
   * stack records every trace (1).
   */
  OTEL_TRACES_SAMPLER_ARG: num({ default: 0.1, min: 0, max: 1 }),
  /** Longest a finished span waits before its batch is sent (ms). */
  OTEL_BSP_SCHEDULE_DELAY: int({ default: 5_000, min: 0, max: 600_000 }),
  /** Spans held for export; beyond it new ones are dropped (counted), never waited for. */
  OTEL_BSP_MAX_QUEUE_SIZE: int({ default: 2_048, min: 1, max: 1_000_000 }),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: int({ default: 512, min: 1, max: 100_000 }),
  /** Longest one export request may take (ms). */
  OTEL_BSP_EXPORT_TIMEOUT: int({ default: 10_000, min: 100, max: 600_000 }),
};
