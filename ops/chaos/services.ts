/**
 * The chaos platform's service processes: every service kind apart (two pipeline workers, so a paused or
 * killed one is taken over; the webhook dispatcher on its own; the payment provider with a durable
 * record), each reaching its dependencies through the fault proxies, and each one killable, pausable and
 * restartable by the name the faults use.
 */
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Mode, startServices, stopServices } from '../local/services.mjs';
import { cfg, DATABASE, NAMESPACE, urls } from './stack';

const c = cfg.chaos;

/** Workers: a consumer that stops heartbeating is out of its group after this (the SIGSTOP fault waits past it). */
export const SESSION_TIMEOUT_MS = 6_000;

/** Delays scaled so a webhook's whole retry schedule fits in seconds (as in the webhooks end-to-end suite). */
const FAST_WEBHOOKS = {
  WEBHOOK_TIME_SCALE: '0.0002',
  WEBHOOK_POLL_MS: '100',
  WEBHOOK_TIMEOUT_MS: '3000',
};

const PIPELINE = 'validator,payment,inventory,fulfillment,projector';

/** The service processes of the chaos platform, by the name the faults use. */
export const SERVICE_SPECS = {
  gateway: { kind: 'gateway', metrics: 0, env: {} },
  'ws-edge': { kind: 'ws-edge', metrics: 0, env: {} },
  provider: { kind: 'payment-provider', metrics: 0, env: { PAYMENT_PROVIDER_STATE_FILE: join(cfg.dataDir, 'chaos', 'payments.jsonl') } },
  'workers-a': { kind: 'workers', metrics: 0, env: { WORKER_STAGES: PIPELINE } },
  'workers-b': { kind: 'workers', metrics: 1, env: { WORKER_STAGES: PIPELINE } },
  dispatcher: { kind: 'workers', metrics: 2, env: { WORKER_STAGES: 'webhooks' } },
} as const;
export type ServiceName = keyof typeof SERVICE_SPECS;
export const SERVICE_NAMES = Object.keys(SERVICE_SPECS) as ServiceName[];

type Started = Awaited<ReturnType<typeof startServices>>['procs'][number];

/** The running service processes; each can be killed, paused and restarted on its own. */
export class Services {
  readonly procs = new Map<ServiceName, Started>();
  readonly errors: string[] = [];
  /** Processes that exited without being told to (a crash the faults were not meant to cause). */
  readonly died: { name: ServiceName; code: number | null; at: number }[] = [];

  private mode(metrics: number): Mode {
    return {
      database: DATABASE,
      namespace: NAMESPACE,
      stage: 'test',
      ports: { ...c.services, workerMetricsPort: c.services.workerMetricsPort + metrics },
      registry: false,
      logLevel: 'warn',
    };
  }

  async start(name: ServiceName): Promise<number> {
    const spec = SERVICE_SPECS[name];
    mkdirSync(cfg.logDir, { recursive: true });
    const logFile = join(cfg.logDir, `chaos-${name}.log`);
    const { procs, readyMs } = await startServices(cfg, this.mode(spec.metrics), {
      only: [spec.kind],
      timeoutMs: 90_000,
      env: {
        DATABASE_URL: urls.database,
        REDIS_URL: urls.redis,
        KAFKA_BROKERS: urls.brokers.join(','),
        SCHEMA_REGISTRY_URL: '',
        KAFKA_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
        ...FAST_WEBHOOKS,
        ...spec.env,
      },
      onLine: (_service, line) => {
        appendFileSync(logFile, `${line}\n`);
        if (/"level":"(error|fatal)"|"level":(50|60)/.test(line) && this.errors.length < 500)
          this.errors.push(`[${name}] ${line.slice(0, 400)}`);
      },
    });
    const proc = procs[0];
    if (!proc) throw new Error(`${name} did not start`);
    this.procs.set(name, proc);
    proc.exited.then((code) => {
      if (this.procs.get(name) === proc) {
        this.procs.delete(name);
        this.died.push({ name, code, at: Date.now() });
      }
    });
    return readyMs;
  }

  async startAll(): Promise<void> {
    for (const name of SERVICE_NAMES) rmSync(join(cfg.logDir, `chaos-${name}.log`), { force: true });
    rmSync(SERVICE_SPECS.provider.env.PAYMENT_PROVIDER_STATE_FILE, { force: true });
    // The provider first (workers call it), the gateway before the workers (nothing to consume yet anyway).
    for (const name of ['provider', 'gateway', 'ws-edge', 'workers-a', 'workers-b', 'dispatcher'] as ServiceName[]) await this.start(name);
  }

  /** SIGKILL, and wait until it is gone. */
  async kill(name: ServiceName): Promise<void> {
    const p = this.procs.get(name);
    if (!p) return;
    this.procs.delete(name);
    p.child.kill('SIGKILL');
    await p.exited;
  }

  signal(name: ServiceName, sig: 'SIGSTOP' | 'SIGCONT'): void {
    this.procs.get(name)?.child.kill(sig);
  }

  /** SIGTERM to each (thawed first), waits for all; resolves with each one's exit code. */
  async stopAll(): Promise<Record<string, number | null>> {
    const all = [...this.procs];
    this.procs.clear();
    for (const [, p] of all) p.child.kill('SIGCONT');
    const codes = await Promise.all(all.map(async ([name, p]) => [name, (await stopServices([p]))[p.def.name] ?? null] as const));
    return Object.fromEntries(codes);
  }
}
