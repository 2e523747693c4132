/**
 * The faults, each bounded in time and on loopback only. A fault runs, heals, and is then timed until
 * the platform has recovered: an order placed after the heal reaches `shipped`.
 */
import { randomUUID } from 'node:crypto';
import { namespaced, Topics } from '@orders/contracts';
import { Kafka, logLevel } from 'kafkajs';
import type postgres from 'postgres';
import * as kafkaCluster from '../local/components/kafka-cluster.mjs';
import * as pg from '../local/components/postgres.mjs';
import { runningPid } from '../local/lib/proc.mjs';
import { type Attempt, type Customer, call } from './load';
import {
  cfg,
  KAFKA_PROXIES,
  NAMESPACE,
  orderEventPartitions,
  PG_CLUSTER,
  redisPid,
  redisUp,
  SESSION_TIMEOUT_MS,
  type ServiceName,
  type Services,
  toxi,
  urls,
  waitForBrokers,
} from './stack';

export interface Observation {
  check: string;
  ok: boolean;
  detail: string;
}

export interface FaultRecord {
  name: string;
  target: string;
  startedAt: number;
  healedAt: number;
  /** Heal → an order placed after it shipped; undefined when it did not within the bound. */
  recoveryMs?: number;
  /** Client requests that got no answer or a 5xx from the fault's start until it had recovered. */
  failedRequests?: number;
  observations: Observation[];
}

export interface FaultContext {
  services: Services;
  sql: postgres.Sql;
  /** A customer of its own for probes and canaries (not part of the load's history). */
  probe: Customer;
  log: (s: string) => void;
  /** Keys of the messages written on purpose that no stage can decode (they belong in the DLQs). */
  poisonKeys: string[];
}

export interface Fault {
  name: string;
  run(ctx: FaultContext): Promise<Omit<FaultRecord, 'name' | 'recoveryMs' | 'failedRequests'>>;
}

const problem = (a: Attempt) => (a.contentType ?? '').startsWith('application/problem+json');
const ORDER = { items: [{ sku: 'SOCKS-3PACK', quantity: 1 }], paymentMethodToken: 'pm_card_visa' };

/** Places an order (retrying with its key) and waits until it ships; resolves with the ms since `from`. */
export async function canary(ctx: FaultContext, from: number, boundMs = 90_000): Promise<number | undefined> {
  const key = randomUUID();
  const deadline = from + boundMs;
  let id: string | undefined;
  const alive = () => ctx.services.died.length === 0;
  while (!id && Date.now() < deadline && alive()) {
    const { attempt, json } = await call('POST', '/api/v1/orders', ctx.probe.token, ORDER, { 'idempotency-key': key });
    if (attempt.status === 201 || attempt.status === 200) id = String(json.id);
    else await Bun.sleep(250);
  }
  while (id && Date.now() < deadline && alive()) {
    const [row] = await ctx.sql<{ status: string }[]>`SELECT status FROM orders WHERE id = ${id}`.catch(() => []);
    if (row?.status === 'shipped') return Date.now() - from;
    await Bun.sleep(100);
  }
  return undefined;
}

const killService = (name: ServiceName, downMs: number): Fault => ({
  name: `kill ${name}`,
  async run({ services }) {
    const startedAt = Date.now();
    await services.kill(name);
    await Bun.sleep(downMs);
    await services.start(name);
    return { target: `${name} (SIGKILL, restarted after ${downMs} ms)`, startedAt, healedAt: Date.now(), observations: [] };
  },
});

export const FAULTS = {
  /** SIGKILL of the broker leading the busiest order-events partition; restarted after `downMs`. */
  kafkaLeader: (downMs = 8_000): Fault => ({
    name: 'kill Kafka partition leader',
    async run({ log }) {
      const parts = await orderEventPartitions();
      const busiest = [...parts].sort((a, b) => b.high - a.high)[0];
      const node = (busiest?.leader ?? 1) - 1;
      const pid = runningPid(cfg, kafkaCluster.nodeName(node));
      const startedAt = Date.now();
      if (pid) process.kill(pid, 'SIGKILL');
      log(`  broker ${node + 1} (leader of partition ${busiest?.partition}, ${busiest?.high} messages) killed`);
      await Bun.sleep(downMs);
      kafkaCluster.startNode(cfg, node);
      await kafkaCluster.ready(cfg, node);
      await waitForBrokers(kafkaCluster.NODES);
      return { target: `broker ${node + 1} (SIGKILL, ${downMs} ms down)`, startedAt, healedAt: Date.now(), observations: [] };
    },
  }),

  /** SIGKILL of Redis (no persistence: its data is gone); probes that the API serves and login fails closed. */
  redis: (downMs = 5_000): Fault => ({
    name: 'kill Redis',
    async run({ probe }) {
      const pid = redisPid();
      const startedAt = Date.now();
      if (pid) process.kill(pid, 'SIGKILL');
      await Bun.sleep(Math.min(1_500, downMs / 2));
      const observations: Observation[] = [];
      const { attempt: order } = await call('POST', '/api/v1/orders', probe.token, ORDER, { 'idempotency-key': randomUUID() });
      observations.push({
        check: 'Redis down: an order is still accepted (limiter fails open)',
        ok: order.status === 201,
        detail: `POST → ${order.status}`,
      });
      const { attempt: list } = await call('GET', '/api/v1/orders?limit=5', probe.token);
      observations.push({ check: 'Redis down: reads still served', ok: list.status === 200, detail: `GET /orders → ${list.status}` });
      const { attempt: login } = await call('POST', '/api/v1/auth/login', null, { email: probe.email, password: 'not-the-password-1' });
      observations.push({
        check: 'Redis down: login fails closed (503 problem+json)',
        ok: login.status === 503 && problem(login),
        detail: `POST /auth/login → ${login.status} ${login.code ?? ''}`,
      });
      await Bun.sleep(Math.max(0, startedAt + downMs - Date.now()));
      await redisUp();
      return { target: `Redis (SIGKILL, ${downMs} ms down, data lost)`, startedAt, healedAt: Date.now(), observations };
    },
  }),

  /** PostgreSQL stopped with `-m immediate` (a crash: the restart runs recovery); probes writes get a clear 503. */
  postgres: (downMs = 5_000): Fault => ({
    name: 'crash PostgreSQL',
    async run({ probe }) {
      const startedAt = Date.now();
      pg.ctlNamed(PG_CLUSTER, 'stop', 'immediate');
      await Bun.sleep(500);
      const answers: Attempt[] = [];
      for (let i = 0; i < 3; i++)
        answers.push((await call('POST', '/api/v1/orders', probe.token, ORDER, { 'idempotency-key': randomUUID() })).attempt);
      const ok = answers.every((a) => a.status === 503 && problem(a));
      await Bun.sleep(Math.max(0, startedAt + downMs - Date.now()));
      pg.ctlNamed(PG_CLUSTER, 'start');
      return {
        target: `PostgreSQL (immediate stop, ${downMs} ms down, crash recovery)`,
        startedAt,
        healedAt: Date.now(),
        observations: [
          {
            check: 'PostgreSQL down: writes fail with 503 problem+json',
            ok,
            detail: answers.map((a) => `${a.status} ${a.code ?? ''}`).join(', '),
          },
        ],
      };
    },
  }),

  /** A network partition between every service and PostgreSQL (packets dropped both ways), healed after `ms`. */
  partition: (proxy: 'postgres' | 'redis' | 'kafka', ms = 6_000): Fault => ({
    name: `partition ${proxy}`,
    async run() {
      const proxies = proxy === 'kafka' ? KAFKA_PROXIES : [proxy];
      const startedAt = Date.now();
      for (const p of proxies)
        for (const stream of ['upstream', 'downstream'] as const)
          await toxi.addToxic(p, { name: `partition-${stream}`, type: 'timeout', stream, attributes: { timeout: 0 } });
      await Bun.sleep(ms);
      for (const p of proxies) for (const stream of ['upstream', 'downstream']) await toxi.removeToxic(p, `partition-${stream}`);
      return { target: `${proxies.join(', ')} (blackholed both ways for ${ms} ms)`, startedAt, healedAt: Date.now(), observations: [] };
    },
  }),

  /** Added latency (with jitter) on the links to every Kafka broker. */
  slowKafka: (latency = 300, ms = 10_000): Fault => ({
    name: 'slow Kafka links',
    async run() {
      const startedAt = Date.now();
      for (const p of KAFKA_PROXIES)
        await toxi.addToxic(p, { name: 'slow', type: 'latency', attributes: { latency, jitter: latency / 3 } });
      await Bun.sleep(ms);
      for (const p of KAFKA_PROXIES) await toxi.removeToxic(p, 'slow');
      return { target: `Kafka links +${latency} ms ±${latency / 3} for ${ms} ms`, startedAt, healedAt: Date.now(), observations: [] };
    },
  }),

  /** A narrow link to PostgreSQL (KB/s, answers only). */
  narrowPostgres: (kbps = 64, ms = 10_000): Fault => ({
    name: 'narrow PostgreSQL link',
    async run() {
      const startedAt = Date.now();
      await toxi.addToxic('postgres', { name: 'narrow', type: 'bandwidth', attributes: { rate: kbps } });
      await Bun.sleep(ms);
      await toxi.removeToxic('postgres', 'narrow');
      return { target: `PostgreSQL answers at ${kbps} KB/s for ${ms} ms`, startedAt, healedAt: Date.now(), observations: [] };
    },
  }),

  /** Connections to Redis reset (TCP RST) shortly after they open, for `ms`. */
  resetRedis: (ms = 5_000): Fault => ({
    name: 'reset Redis connections',
    async run() {
      const startedAt = Date.now();
      await toxi.addToxic('redis', { name: 'reset', type: 'reset_peer', attributes: { timeout: 300 } });
      await Bun.sleep(ms);
      await toxi.removeToxic('redis', 'reset');
      return { target: `Redis connections reset after 300 ms, for ${ms} ms`, startedAt, healedAt: Date.now(), observations: [] };
    },
  }),

  kill: killService,

  /** A pipeline worker frozen past its session timeout (its partitions move on), then thawed: a zombie. */
  pause: (name: ServiceName = 'workers-b'): Fault => ({
    name: `pause ${name} past its session`,
    async run({ services }) {
      const startedAt = Date.now();
      services.signal(name, 'SIGSTOP');
      await Bun.sleep(SESSION_TIMEOUT_MS + 4_000);
      services.signal(name, 'SIGCONT');
      return {
        target: `${name} (SIGSTOP for ${SESSION_TIMEOUT_MS + 4_000} ms, session ${SESSION_TIMEOUT_MS} ms, then SIGCONT)`,
        startedAt,
        healedAt: Date.now(),
        observations: [],
      };
    },
  }),

  /** Undecodable messages on the order-events topic: the validator must park them in its DLQ and go on. */
  poison: (count = 3): Fault => ({
    name: 'poison messages',
    async run(ctx) {
      const startedAt = Date.now();
      const kafka = new Kafka({ clientId: 'chaos-poison', brokers: urls.brokers, logLevel: logLevel.NOTHING });
      const producer = kafka.producer();
      const keys = Array.from({ length: count }, () => `poison-${randomUUID()}`);
      await producer.connect();
      await producer.send({
        topic: namespaced(Topics.orderEvents, NAMESPACE),
        acks: -1,
        messages: keys.map((key, i) => ({ key, value: Buffer.from(`\u0000not avro ${i}`) })),
      });
      await producer.disconnect();
      ctx.poisonKeys.push(...keys);
      return { target: `${count} undecodable messages on order-events`, startedAt, healedAt: Date.now(), observations: [] };
    },
  }),
};
