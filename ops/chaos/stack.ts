/**
 * The fault-injection suite's own platform: a 3-node Kafka cluster, a Redis, a PostgreSQL cluster named
 * `chaos`, Toxiproxy in front of each (services and tests reach them only through their proxies), and
 * every service kind as separate processes (two pipeline workers, so a paused or killed one is taken
 * over; the webhook dispatcher apart; the payment provider with a durable record). Nothing here is
 * shared with `npm start` or the other suites, so killing any of it disturbs nothing else.
 */
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { namespaced, Topics } from '@orders/contracts';
import { Kafka, logLevel } from 'kafkajs';
import { migrate } from '../db/migrate';
import { ensureTopics, resetNamespace } from '../kafka/topics';
import * as kafkaCluster from '../local/components/kafka-cluster.mjs';
import * as postgres from '../local/components/postgres.mjs';
import { startRedis } from '../local/components/redis.mjs';
import * as toxiproxy from '../local/components/toxiproxy.mjs';
import { pgPassword, stackConfig } from '../local/config.mjs';
import { redisPing } from '../local/lib/probes.mjs';
import { runningPid, stopProcess } from '../local/lib/proc.mjs';
import { type Mode, startServices, stopServices } from '../local/services.mjs';
import { Toxiproxy } from './toxiproxy';

export const cfg = stackConfig();
const c = cfg.chaos;
export const NAMESPACE = 'chaos';
export const DATABASE = 'orders_chaos';
export const PG_CLUSTER = 'chaos';
const REDIS_NAME = 'chaos-redis';
const proxied = (port: number) => port + c.proxyOffset;

/** The Toxiproxy proxies: one per dependency link (each Kafka node has its own). */
export const PROXIES = {
  postgres: { listen: proxied(c.postgresPort), upstream: c.postgresPort },
  redis: { listen: proxied(c.redisPort), upstream: c.redisPort },
  ...Object.fromEntries(
    Array.from({ length: kafkaCluster.NODES }, (_, i) => {
      const p = kafkaCluster.nodePorts(cfg, i);
      return [`kafka-${i + 1}`, { listen: p.proxy, upstream: p.client }];
    }),
  ),
} as Record<string, { listen: number; upstream: number }>;

export const KAFKA_PROXIES = Object.keys(PROXIES).filter((n) => n.startsWith('kafka-'));

export const urls = {
  database: `postgres://${cfg.postgres.user}:${encodeURIComponent(pgPassword(cfg))}@${cfg.host}:${proxied(c.postgresPort)}/${DATABASE}`,
  /** Straight to PostgreSQL, for the checker (it reads after the faults, past the proxy). */
  databaseDirect: `postgres://${cfg.postgres.user}:${encodeURIComponent(pgPassword(cfg))}@${cfg.host}:${c.postgresPort}/${DATABASE}`,
  redis: `redis://${cfg.host}:${proxied(c.redisPort)}`,
  brokers: KAFKA_PROXIES.map((n) => `${cfg.host}:${PROXIES[n]?.listen}`),
  gateway: `http://${cfg.host}:${c.services.gatewayPort}`,
  edge: `ws://${cfg.host}:${c.services.wsEdgePort}/ws/orders`,
  provider: `http://${cfg.host}:${c.services.paymentProviderPort}`,
};

export const toxi = new Toxiproxy(toxiproxy.apiUrl(cfg));

/** Workers: a consumer that stops heartbeating is out of its group after this (the SIGSTOP fault waits past it). */
export const SESSION_TIMEOUT_MS = 6_000;

/** Brings the dependencies up from scratch (fresh database, topics, Redis data), proxies in front. */
export async function infraUp(log: (s: string) => void): Promise<void> {
  const t0 = Date.now();
  await toxiproxy.up(cfg);
  await toxi.populate(
    Object.entries(PROXIES).map(([name, p]) => ({ name, listen: `${cfg.host}:${p.listen}`, upstream: `${cfg.host}:${p.upstream}` })),
  );
  await postgres.upNamed(cfg, PG_CLUSTER, c.postgresPort, DATABASE);
  postgres.recreateNamedDatabase(cfg, c.postgresPort, DATABASE);
  await migrate(urls.databaseDirect, { seed: 'dev', log: () => {} });
  await redisUp();
  await kafkaCluster.up(cfg);
  await waitForBrokers(kafkaCluster.NODES);
  await resetNamespace(urls.brokers, NAMESPACE);
  await ensureTopics(urls.brokers, NAMESPACE, 3);
  await topicsEverywhere();
  log(`chaos stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (3 Kafka nodes, PostgreSQL ${PG_CLUSTER}, Redis, Toxiproxy)`);
}

/**
 * Waits until each broker's metadata shows every topic of the namespace with a leader for each partition
 * (creation propagates). A fresh client per look: kafkajs keeps metadata it fetched for minutes.
 */
async function topicsEverywhere(timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const broker of urls.brokers) {
    for (;;) {
      const admin = new Kafka({ clientId: 'chaos-probe', brokers: [broker], logLevel: logLevel.NOTHING }).admin();
      let ready = false;
      try {
        await admin.connect();
        const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${NAMESPACE}.`));
        const meta = await admin.fetchTopicMetadata({ topics });
        ready =
          topics.length > 0 && meta.topics.length === topics.length && meta.topics.every((t) => t.partitions.every((p) => p.leader >= 0));
      } catch {
        ready = false;
      } finally {
        await admin.disconnect().catch(() => {});
      }
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`topics not visible on ${broker} within ${timeoutMs} ms`);
      await Bun.sleep(250);
    }
  }
}

export async function redisUp(): Promise<void> {
  if (await redisPing(cfg.host, c.redisPort).catch(() => false)) return;
  rmSync(join(cfg.dataDir, 'chaos', 'redis'), { recursive: true, force: true });
  await startRedis(cfg, REDIS_NAME, c.redisPort, join(cfg.dataDir, 'chaos', 'redis'), ['--maxmemory-policy', 'noeviction']);
}

export function redisPid(): number | null {
  return runningPid(cfg, REDIS_NAME);
}

/** Waits until the cluster's metadata (through the proxies) lists `n` live brokers. */
export async function waitForBrokers(n: number, timeoutMs = 90_000): Promise<number> {
  const t0 = Date.now();
  const kafka = new Kafka({ clientId: 'chaos-probe', brokers: urls.brokers, logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  for (;;) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const { brokers } = await admin.describeCluster();
      if (brokers.length >= n) return Date.now() - t0;
    } catch {
      // not yet
    } finally {
      await admin.disconnect().catch(() => {});
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`the chaos Kafka cluster did not show ${n} brokers within ${timeoutMs} ms`);
    await Bun.sleep(500);
  }
}

/** Every partition of the order-events topic with its leader and high watermark. */
export async function orderEventPartitions(): Promise<{ partition: number; leader: number; high: number }[]> {
  const kafka = new Kafka({ clientId: 'chaos-probe', brokers: urls.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topic = namespaced(Topics.orderEvents, NAMESPACE);
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const offsets = await admin.fetchTopicOffsets(topic);
    return (meta.topics[0]?.partitions ?? []).map((p) => ({
      partition: p.partitionId,
      leader: p.leader,
      high: Number(offsets.find((o) => o.partition === p.partitionId)?.high ?? 0),
    }));
  } finally {
    await admin.disconnect();
  }
}

export async function infraDown(): Promise<void> {
  await Promise.all([kafkaCluster.down(cfg), stopProcess(cfg, REDIS_NAME, 10_000), toxiproxy.down(cfg)]);
  if (postgres.namedOnline(PG_CLUSTER)) postgres.ctlNamed(PG_CLUSTER, 'stop');
}

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
