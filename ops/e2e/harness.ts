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

/** A WebSocket client that authenticates with its first frame and collects every frame it receives. */
export class FeedClient {
  readonly frames: Record<string, unknown>[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly ws: WebSocket;
  private waiters: (() => void)[] = [];

  constructor(token: string | null, url = edgeUrl) {
    this.ws = new WebSocket(url);
    this.ws.onopen = () => {
      if (token !== null) this.ws.send(JSON.stringify({ type: 'auth', token }));
    };
    this.ws.onmessage = (e) => {
      this.frames.push(JSON.parse(String(e.data)) as Record<string, unknown>);
      this.notify();
    };
    this.ws.onclose = (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.notify();
    };
  }

  send(text: string) {
    this.ws.send(text);
  }

  private notify() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves with the first frame matching `pred`, or rejects after `ms`. */
  async waitFor(pred: (f: Record<string, unknown>) => boolean, ms = 15_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.frames.find(pred);
      if (hit) return hit;
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) before the frame arrived`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame within ${ms} ms; got ${JSON.stringify(this.frames).slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async waitClosed(ms = 10_000) {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  close() {
    this.ws.close(1000, 'done');
  }
}
