/**
 * The gateway under test: the real app with real clients (PostgreSQL test database, Redis, Kafka,
 * schema registry) driven in-process through `app.handle(request)`.
 */
import { afterAll, beforeAll } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { createLogger, createMetrics } from '@orders/platform';
import pino from 'pino';
import { createApp } from '../src/app';
import { createDeps } from '../src/deps';
import { loadEnv } from '../src/env';

export async function gateway(overrides: Record<string, string> = {}) {
  // process.env comes from `npm test` (ops/local/test.mjs): the test stack's URLs and, like every test
  // service, limits no suite's traffic reaches (RELAXED_LIMITS); the rate-limit suite passes its own.
  const env = loadEnv({ ...process.env, DEPLOY_STAGE: 'test', DEV_TOKENS: 'true', LOG_LEVEL: 'silent', ...overrides });
  const logger = createLogger({ service: 'gateway-test', level: env.LOG_LEVEL, destination: pino.destination({ fd: 2, sync: true }) });
  const metrics = createMetrics('gateway', { defaultMetrics: false });
  const deps = await createDeps(env, logger, metrics);
  const inflight = { value: 0 };
  const app = createApp({ env, deps, logger, metrics, isStopping: () => false, inflight });

  async function call(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; raw?: BodyInit; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: BodyInit | undefined = opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await app.handle(new Request(`http://localhost${path}`, { method, headers, body }));
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return {
      status: res.status,
      headers: res.headers,
      json: json as Record<string, unknown> & { errors?: { field: string; message: string }[] },
    };
  }

  async function user(role: 'customer' | 'admin' = 'customer') {
    const r = await call('POST', '/api/v1/auth/dev-token', { body: { email: `gw-${randomUUID()}@example.com`, role } });
    if (r.status !== 200) throw new Error(`dev-token: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json as { accessToken: string; userId: string };
  }

  async function close() {
    await deps.outbox.stop();
    await deps.kafka.producer.disconnect();
    await deps.cacheFeed.close();
    await deps.sessions.close();
    await deps.redis.quit().catch(() => deps.redis.disconnect());
    await deps.sql.end({ timeout: 5 });
  }

  return { env, deps, app, call, user, close, sql: deps.sql, inflight, metrics };
}

export type Gateway = Awaited<ReturnType<typeof gateway>>;

/**
 * The gateway a test file shares: started before its first test, closed after its last. Call it at the
 * top of the file; what it returns stands for that gateway once the file's tests run (a property read
 * before `beforeAll` has started it throws instead of answering `undefined`).
 */
export function suiteGateway(overrides: Record<string, string> = {}): Gateway {
  let current: Gateway | undefined;
  beforeAll(async () => {
    current = await gateway(overrides);
  });
  afterAll(async () => {
    await current?.close();
  });
  return new Proxy({} as Gateway, {
    get(_target, key) {
      if (!current) throw new Error(`the suite's gateway was used before it started (reading ${String(key)})`);
      return current[key as keyof Gateway];
    },
  });
}
