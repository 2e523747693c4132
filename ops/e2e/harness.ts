/**
 * Helpers for the end-to-end suites: start the real service processes exactly as `npm start` does
 * (on the test ports and the test database), talk to them over HTTP and WebSocket, and read PostgreSQL
 * directly to check what was (not) written.
 *
 * Each suite file runs in a namespace of its own (topics, consumer groups, Redis keys), created empty
 * by `useNamespace`: the workers a suite starts never wade through another suite's backlog.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { FeedClient as BaseFeedClient } from '../clients/feed';
import { ensureTopics, resetNamespace } from '../kafka/topics';
import { stackConfig } from '../local/config.mjs';
import { serviceEnv, startServices, stopServices, testMode } from '../local/services.mjs';

export const cfg = stackConfig();
export const mode = testMode(cfg, (process.env.SCHEMA_REGISTRY_URL ?? '') !== '');
export const env = serviceEnv(cfg, mode);
export const gatewayUrl = `http://${cfg.host}:${mode.ports.gatewayPort}`;
export const edgeUrl = `ws://${cfg.host}:${mode.ports.wsEdgePort}/ws/orders`;

export type Services = Awaited<ReturnType<typeof startServices>> & { lines: string[] };

/** Switches this suite to a fresh namespace (empty topics, no consumer offsets). Call once, in beforeAll. */
export async function useNamespace(namespace: string): Promise<void> {
  const brokers = env.KAFKA_BROKERS.split(',');
  await resetNamespace(brokers, namespace);
  await ensureTopics(brokers, namespace);
  mode.namespace = namespace;
  Object.assign(env, serviceEnv(cfg, mode));
}

export async function start(only?: string[], extraEnv?: Record<string, string>): Promise<Services> {
  const lines: string[] = [];
  try {
    const services = await startServices(cfg, mode, {
      only,
      env: extraEnv,
      // Service logs reach the test output only when something is wrong.
      onLine: (service, line) => {
        lines.push(`[${service}] ${line}`);
        // Every line also lands in .local/logs/e2e-<service>.log, for a look after a red run.
        appendFileSync(join(cfg.logDir, `e2e-${service}.log`), `${line}\n`);
        if (/"level":"(error|fatal)"/.test(line)) process.stderr.write(`[${service}] ${line}\n`);
        if (lines.length > 5_000) lines.splice(0, 1_000);
      },
    });
    return Object.assign(services, { lines });
  } catch (err) {
    process.stderr.write(`${lines.slice(-40).join('\n')}\n`);
    throw err;
  }
}

export function stop(services: Services) {
  return stopServices(services.procs);
}

/** The sum of every series of `name` in a Prometheus text exposition whose labels include `label`. */
export function metricSum(text: string, name: string, label = ''): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(label))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

export function db() {
  return postgres(env.DATABASE_URL, { max: 2, onnotice: () => {} });
}

export async function devToken(role: 'customer' | 'admin' = 'customer') {
  const email = `e2e-${randomUUID()}@example.com`;
  const res = await fetch(`${gatewayUrl}/api/v1/auth/dev-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, role }),
  });
  if (res.status !== 200) throw new Error(`dev-token answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { accessToken: string; userId: string };
}

/** The shared frame-collecting client (ops/clients/feed.ts), on the test edge unless told otherwise. */
export class FeedClient extends BaseFeedClient {
  constructor(token: string | null, url = edgeUrl) {
    super(token, url);
  }
}
