/**
 * The fault-injection suite's own dependencies: a 3-node Kafka cluster, a Redis, a PostgreSQL cluster
 * named `chaos`, and Toxiproxy in front of each (services and tests reach them only through their
 * proxies); its service processes are in ./services.ts. Nothing here is shared with `npm start` or the
 * other suites, so killing any of it disturbs nothing else.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { namespaced, Topics } from '@orders/contracts';
import { eventually } from '@orders/platform/testing';
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
    await eventually(
      async () => {
        const admin = new Kafka({ clientId: 'chaos-probe', brokers: [broker], logLevel: logLevel.NOTHING }).admin();
        try {
          await admin.connect();
          const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${NAMESPACE}.`));
          const meta = await admin.fetchTopicMetadata({ topics });
          return (
            topics.length > 0 && meta.topics.length === topics.length && meta.topics.every((t) => t.partitions.every((p) => p.leader >= 0))
          );
        } finally {
          await admin.disconnect().catch(() => {});
        }
      },
      // One bound for all the brokers together.
      { what: `the namespace's topics to be visible on ${broker}`, timeoutMs: Math.max(0, deadline - Date.now()), everyMs: 250 },
    );
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

/** Waits until the cluster's metadata (through the proxies) lists `n` live brokers; resolves with how long that took. */
export async function waitForBrokers(n: number, timeoutMs = 90_000): Promise<number> {
  const t0 = Date.now();
  const kafka = new Kafka({ clientId: 'chaos-probe', brokers: urls.brokers, logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  await eventually(
    async () => {
      const admin = kafka.admin();
      try {
        await admin.connect();
        return (await admin.describeCluster()).brokers.length >= n;
      } finally {
        await admin.disconnect().catch(() => {});
      }
    },
    { what: `the chaos Kafka cluster to show ${n} brokers`, timeoutMs, everyMs: 500 },
  );
  return Date.now() - t0;
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
