// @ts-check
/**
 * The one place that says where the local stack lives: ports, versions, folders.
 * Every value can be overridden by an environment variable of the same name. The stack manager,
 * `npm start` and `npm test` read it; services never do: they get plain URLs through their env.
 *
 * Dependency-free on purpose: it runs before `npm ci` on a fresh clone.
 */

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** @param {NodeJS.ProcessEnv} env @param {string} name @param {number} fallback */
function port(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new Error(`${name} must be a TCP port (1-65535), got "${raw}"`);
  }
  return n;
}

/** @param {NodeJS.ProcessEnv} env @param {string} name @param {string} fallback */
function str(env, name, fallback) {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

/** @param {NodeJS.ProcessEnv} [env] */
export function stackConfig(env = process.env) {
  const localDir = resolve(ROOT, str(env, 'STACK_DIR', '.local'));
  const cacheDir = resolve(ROOT, str(env, 'STACK_CACHE_DIR', '.cache'));
  return {
    root: ROOT,
    localDir,
    cacheDir,
    logDir: join(localDir, 'logs'),
    dataDir: join(localDir, 'data'),
    runDir: join(localDir, 'run'),
    secretsDir: join(localDir, 'secrets'),
    host: '127.0.0.1',
    postgres: {
      port: port(env, 'PG_PORT', 5432),
      user: str(env, 'PG_USER', 'orders'),
      database: str(env, 'PG_DATABASE', 'orders'),
      testDatabase: str(env, 'PG_TEST_DATABASE', 'orders_test'),
      registryDatabase: str(env, 'PG_REGISTRY_DATABASE', 'schema_registry'),
    },
    redis: { port: port(env, 'REDIS_PORT', 6379) },
    /** A 3-master Redis Cluster the test suites start, to prove the limiter's keys stay in one slot. */
    redisCluster: { ports: [0, 1, 2].map((i) => port(env, 'REDIS_CLUSTER_PORT', 7000) + i) },
    kafka: {
      version: str(env, 'KAFKA_VERSION', '4.1.1'),
      port: port(env, 'KAFKA_PORT', 9092),
      controllerPort: port(env, 'KAFKA_CONTROLLER_PORT', 9093),
      heapMb: Number(str(env, 'KAFKA_HEAP_MB', '512')),
    },
    registry: {
      version: str(env, 'SCHEMA_REGISTRY_VERSION', '3.3.3'),
      port: port(env, 'SCHEMA_REGISTRY_PORT', 8081),
      heapMb: Number(str(env, 'SCHEMA_REGISTRY_HEAP_MB', '384')),
      /** Apicurio 3.3 is compiled for Java 21; the stack looks for such a JDK and says so if there is none. */
      minJava: 21,
    },
    services: {
      gatewayPort: port(env, 'GATEWAY_PORT', 8080),
      wsEdgePort: port(env, 'WS_EDGE_PORT', 8090),
      paymentProviderPort: port(env, 'PAYMENT_PROVIDER_PORT', 8070),
      workerMetricsPort: port(env, 'WORKER_METRICS_PORT', 9400),
    },
    /**
     * The fault-injection suite (`npm run chaos`, ops/chaos) runs a stack of its own beside the others, so
     * that killing its brokers, Redis or PostgreSQL disturbs nothing else: a 3-node Kafka cluster, a Redis,
     * a PostgreSQL cluster named `chaos`, Toxiproxy in front of each, and its own service ports.
     */
    chaos: {
      /** Kafka node i (0-2): client listener base+10i, inter-broker +1, controller +2; its proxy +5. */
      kafkaBase: port(env, 'CHAOS_KAFKA_BASE_PORT', 29100),
      redisPort: port(env, 'CHAOS_REDIS_PORT', 29200),
      postgresPort: port(env, 'CHAOS_PG_PORT', 29300),
      /** The proxied address of a dependency is its port + this offset. */
      proxyOffset: 5,
      toxiproxyPort: port(env, 'CHAOS_TOXIPROXY_PORT', 29474),
      toxiproxyVersion: str(env, 'TOXIPROXY_VERSION', 'v2.5.0'),
      heapMb: Number(str(env, 'CHAOS_KAFKA_HEAP_MB', '384')),
      services: {
        gatewayPort: port(env, 'CHAOS_GATEWAY_PORT', 27080),
        wsEdgePort: port(env, 'CHAOS_WS_EDGE_PORT', 27090),
        paymentProviderPort: port(env, 'CHAOS_PAYMENT_PROVIDER_PORT', 27070),
        workerMetricsPort: port(env, 'CHAOS_WORKER_METRICS_PORT', 27400),
      },
    },
    /**
     * Observability backends, started on demand (`npm run observability -- up`, and by the telemetry suite):
     * Debian's Prometheus scraping every local service with the project's rules, and Jaeger (built from the
     * Go module proxy) receiving OTLP traces. Loopback only.
     */
    observability: {
      prometheusPort: port(env, 'PROMETHEUS_PORT', 9090),
      jaegerQueryPort: port(env, 'JAEGER_QUERY_PORT', 16686),
      otlpHttpPort: port(env, 'OTLP_HTTP_PORT', 4318),
      otlpGrpcPort: port(env, 'OTLP_GRPC_PORT', 4317),
      jaegerVersion: str(env, 'JAEGER_VERSION', 'v1.76.0'),
    },
    /** The test suites run their own service processes beside a running `npm start`, on these ports. */
    testServices: {
      gatewayPort: port(env, 'TEST_GATEWAY_PORT', 18080),
      wsEdgePort: port(env, 'TEST_WS_EDGE_PORT', 18090),
      paymentProviderPort: port(env, 'TEST_PAYMENT_PROVIDER_PORT', 18070),
      workerMetricsPort: port(env, 'TEST_WORKER_METRICS_PORT', 19400),
    },
  };
}

/** @typedef {ReturnType<typeof stackConfig>} StackConfig */

/**
 * Local secrets are generated on first use and kept in the git-ignored `.local/secrets`, so nothing
 * secret is committed and every clone gets its own.
 * @param {StackConfig} cfg @param {string} name @param {() => string} make
 */
export function localSecret(cfg, name, make = () => randomBytes(24).toString('base64url')) {
  const file = join(cfg.secretsDir, name);
  if (!existsSync(file)) {
    mkdirSync(cfg.secretsDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, make(), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

/** @param {StackConfig} cfg */
export function pgPassword(cfg) {
  return localSecret(cfg, 'pg-password');
}

/**
 * The local JWT keys: an EC P-256 signing key (private JWK, gateway only) and the public key set every
 * service verifies with. Generated once per clone; the key id carries the creation date so a rotation
 * is visible in tokens.
 * @param {StackConfig} cfg
 */
export function jwtKeyFiles(cfg) {
  const signing = join(cfg.secretsDir, 'jwt-signing.jwk.json');
  const jwks = join(cfg.secretsDir, 'jwt-public.jwks.json');
  if (!existsSync(signing) || !existsSync(jwks)) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = `local-${new Date().toISOString().slice(0, 10)}-${randomBytes(3).toString('hex')}`;
    mkdirSync(cfg.secretsDir, { recursive: true, mode: 0o700 });
    writeFileSync(signing, JSON.stringify({ ...privateKey.export({ format: 'jwk' }), kid }), { mode: 0o600 });
    writeFileSync(jwks, JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid }] }), { mode: 0o644 });
  }
  return { JWT_SIGNING_KEY_FILE: signing, JWT_PUBLIC_KEYS_FILE: jwks };
}

/**
 * The key webhook endpoint secrets are sealed with (AES-256-GCM), generated once per clone like the JWT
 * keys; the gateway seals, the dispatcher opens.
 * @param {StackConfig} cfg
 */
export function webhookKeyFile(cfg) {
  const file = join(cfg.secretsDir, 'webhook-secret.key');
  if (!existsSync(file)) {
    mkdirSync(cfg.secretsDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  }
  return { WEBHOOK_SECRET_KEY_FILE: file };
}

/**
 * The connection URLs services need, derived from the stack config. `npm start` and `npm test` pass
 * these (and nothing else about the stack) to the service processes.
 * @param {StackConfig} cfg @param {{ database?: string, registry?: boolean }} [opts]
 */
export function stackUrls(cfg, opts = {}) {
  const db = opts.database ?? cfg.postgres.database;
  const pw = encodeURIComponent(pgPassword(cfg));
  return {
    DATABASE_URL: `postgres://${cfg.postgres.user}:${pw}@${cfg.host}:${cfg.postgres.port}/${db}`,
    REDIS_URL: `redis://${cfg.host}:${cfg.redis.port}`,
    KAFKA_BROKERS: `${cfg.host}:${cfg.kafka.port}`,
    SCHEMA_REGISTRY_URL: opts.registry === false ? '' : `http://${cfg.host}:${cfg.registry.port}/apis/ccompat/v7`,
  };
}
