// @ts-check
/**
 * The platform's service processes as the local stack runs them: what to start, with which
 * environment, and how to tell that each is ready. Used by `npm start` and by the end-to-end tests,
 * so both run the services exactly the same way.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as jaeger from './components/jaeger.mjs';
import { jwtKeyFiles, stackUrls, webhookKeyFile } from './config.mjs';

/**
 * @typedef {{ gatewayPort: number, wsEdgePort: number, paymentProviderPort: number, workerMetricsPort: number }} Ports
 * @typedef {{ database: string, namespace: string, stage: 'dev' | 'test', ports: Ports, registry: boolean, logLevel?: string }} Mode
 */

/**
 * Test and benchmark traffic comes from one address and a handful of users: limits that never throttle
 * it (the rate-limit suites set their own).
 */
export const RELAXED_LIMITS = {
  RATE_LIMIT_IP: '1000000/1m',
  RATE_LIMIT_TIER_FREE: '1000000/1m',
  RATE_LIMIT_TIER_STANDARD: '1000000/1m',
  RATE_LIMIT_TIER_PREMIUM: '1000000/1m',
  RATE_LIMIT_ENDPOINT_POST_API_V1_ORDERS: '1000000/1m',
  RATE_LIMIT_ENDPOINT_GET_API_V1_ORDERS: '1000000/1m',
  RATE_LIMIT_LOGIN_ACCOUNT: '1000000/1m',
  RATE_LIMIT_LOGIN_IP: '1000000/1m',
};

/**
 * How the test suites run the platform: the test database, the `test` namespace for topics, groups
 * and Redis keys, the test ports. Beside a running `npm start`, nothing is shared but the servers.
 * @param {import('./config.mjs').StackConfig} cfg @param {boolean} registry @returns {Mode}
 */
export function testMode(cfg, registry) {
  return { database: cfg.postgres.testDatabase, namespace: 'test', stage: 'test', ports: cfg.testServices, registry, logLevel: 'warn' };
}

/** @param {import('./config.mjs').StackConfig} cfg @param {Mode} mode */
export function serviceEnv(cfg, mode) {
  return {
    ...stackUrls(cfg, { database: mode.database, registry: mode.registry }),
    ...jwtKeyFiles(cfg),
    ...webhookKeyFile(cfg),
    // Local receivers (tests, a developer's own server) listen on loopback: allowed by name, here only.
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    DEPLOY_STAGE: mode.stage,
    NAMESPACE: mode.namespace,
    ...(mode.stage === 'test' ? RELAXED_LIMITS : {}),
    LOG_LEVEL: mode.logLevel ?? 'info',
    DEV_TOKENS: 'true',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
    ...tracingEnv(cfg, mode),
  };
}

/**
 * The dev stack exports its spans to the local Jaeger when that runs (`npm run observability -- up`
 * before `npm start`); test and bench runs only when they ask (the telemetry suite passes its own, a
 * bench the caller's OTEL_EXPORTER_OTLP_ENDPOINT). An endpoint set in the caller's environment wins.
 * @param {import('./config.mjs').StackConfig} cfg @param {Mode} mode @returns {Record<string, string>}
 */
function tracingEnv(cfg, mode) {
  if (mode.stage !== 'dev' || process.env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || !jaeger.isRunning(cfg)) return {};
  // Every trace, not the services' default share: a developer looks for the request they just made.
  return { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl(cfg), OTEL_TRACES_SAMPLER_ARG: '1' };
}

/** @param {import('./config.mjs').StackConfig} cfg @param {Mode} mode */
function serviceDefinitions(cfg, mode) {
  const bun = join(cfg.root, 'node_modules/.bin/bun');
  const { ports } = mode;
  const host = cfg.host;
  return [
    {
      name: 'gateway',
      cmd: bun,
      args: ['src/index.ts'],
      cwd: join(cfg.root, 'gateway'),
      env: { HOST: host, PORT: String(ports.gatewayPort), TRACKING_WS_URL: `ws://${host}:${ports.wsEdgePort}/ws/orders` },
      ready: `http://${host}:${ports.gatewayPort}/readyz`,
    },
    {
      name: 'ws-edge',
      cmd: bun,
      args: ['src/index.ts'],
      cwd: join(cfg.root, 'ws-edge'),
      env: { HOST: host, PORT: String(ports.wsEdgePort) },
      ready: `http://${host}:${ports.wsEdgePort}/readyz`,
    },
    {
      name: 'payment-provider',
      cmd: bun,
      args: ['simulators/payment-provider.ts'],
      cwd: join(cfg.root, 'ops'),
      env: { PAYMENT_PROVIDER_PORT: String(ports.paymentProviderPort) },
      ready: `http://${host}:${ports.paymentProviderPort}/healthz`,
    },
    {
      name: 'workers',
      // Node, not Bun: node-rdkafka is a NAN addon Bun cannot load (and this module also runs under bun test).
      cmd: 'node',
      args: ['--import', 'tsx', 'src/index.ts'],
      cwd: join(cfg.root, 'workers'),
      env: {
        METRICS_HOST: host,
        METRICS_PORT: String(ports.workerMetricsPort),
        PAYMENT_PROVIDER_URL: `http://${host}:${ports.paymentProviderPort}`,
        // A pool thread per waiting consumer (two per stage), read by Node at start-up: see workers/src/env.ts.
        UV_THREADPOOL_SIZE: '32',
      },
      ready: `http://${host}:${ports.workerMetricsPort}/readyz`,
    },
  ];
}

/**
 * Starts every service, each line of output prefixed with its name (or handed to `onLine`), and
 * waits until all answer their readiness endpoint.
 * @param {import('./config.mjs').StackConfig} cfg @param {Mode} mode
 * @param {{ onLine?: (service: string, line: string) => void, timeoutMs?: number, only?: string[], env?: Record<string, string> }} [opts]
 */
export async function startServices(cfg, mode, opts = {}) {
  const base = { ...serviceEnv(cfg, mode), ...opts.env };
  const onLine = opts.onLine ?? ((service, line) => process.stdout.write(`[${service}] ${line}\n`));
  const defs = serviceDefinitions(cfg, mode).filter((d) => !opts.only || opts.only.includes(d.name));
  // A stale instance still on the port would answer the readiness check in the new one's place.
  for (const def of defs) {
    const { hostname, port } = new URL(def.ready);
    if (await portAnswers(hostname, Number(port)))
      throw new Error(`${def.name}: ${hostname}:${port} is already in use (an instance left running by an earlier run?)`);
  }
  // PROFILE_DIR: every service writes a CPU profile there when it exits (Node and Bun take the same flags).
  const profile = process.env.PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}`] : [];
  const procs = defs.map((def) => {
    const child = spawn(def.cmd, [...profile, ...def.args], {
      cwd: def.cwd,
      env: { ...process.env, ...base, ...def.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) onLine(def.name, line);
      });
    }
    /** @type {Promise<number | null>} */
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
    return { def, child, exited };
  });
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  for (const p of procs) {
    for (;;) {
      if (p.child.exitCode !== null) {
        await stopServices(procs);
        throw new Error(`${p.def.name} exited with code ${p.child.exitCode} before it was ready`);
      }
      const ok = await fetch(p.def.ready, { signal: AbortSignal.timeout(1_000) })
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) break;
      if (Date.now() - started > timeoutMs) {
        await stopServices(procs);
        throw new Error(`${p.def.name} was not ready within ${timeoutMs} ms (${p.def.ready})`);
      }
      await sleep(200);
    }
  }
  return { procs, readyMs: Date.now() - started };
}

/** @param {string} host @param {number} port @returns {Promise<boolean>} */
function portAnswers(host, port) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * SIGTERM to every service, then wait (SIGKILL after the grace period). Resolves with each exit code.
 * @param {{ def: { name: string }, child: import('node:child_process').ChildProcess, exited: Promise<number | null> }[]} procs
 * @param {number} [graceMs]
 */
export async function stopServices(procs, graceMs = 20_000) {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
  const codes = await Promise.all(
    procs.map(async (p) => {
      const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
      const code = await p.exited;
      clearTimeout(timer);
      return /** @type {[string, number | null]} */ ([p.def.name, code]);
    }),
  );
  return Object.fromEntries(codes);
}
