/**
 * Processes taken away: a broker, Redis or PostgreSQL crashed (and brought back after a while), a
 * service SIGKILLed and restarted, a worker frozen past its session. The Redis and PostgreSQL faults
 * also probe what clients are told meanwhile.
 */
import { randomUUID } from 'node:crypto';
import * as kafkaCluster from '../../local/components/kafka-cluster.mjs';
import * as pg from '../../local/components/postgres.mjs';
import { runningPid } from '../../local/lib/proc.mjs';
import { type Attempt, call } from '../load';
import { SESSION_TIMEOUT_MS, type ServiceName } from '../services';
import { cfg, orderEventPartitions, PG_CLUSTER, redisPid, redisUp, waitForBrokers } from '../stack';
import { type Fault, isProblem, type Observation, PROBE_ORDER } from './fault';

/** SIGKILL of a service process, restarted after `downMs`. */
export const kill = (name: ServiceName, downMs: number): Fault => ({
  name: `kill ${name}`,
  async run({ services }) {
    const startedAt = Date.now();
    await services.kill(name);
    await Bun.sleep(downMs);
    await services.start(name);
    return { target: `${name} (SIGKILL, restarted after ${downMs} ms)`, startedAt, healedAt: Date.now(), observations: [] };
  },
});

/** SIGKILL of the broker leading the busiest order-events partition; restarted after `downMs`. */
export const kafkaLeader = (downMs = 8_000): Fault => ({
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
});

/** SIGKILL of Redis (no persistence: its data is gone); probes that the API serves and login fails closed. */
export const redis = (downMs = 5_000): Fault => ({
  name: 'kill Redis',
  async run({ probe }) {
    const pid = redisPid();
    const startedAt = Date.now();
    if (pid) process.kill(pid, 'SIGKILL');
    await Bun.sleep(Math.min(1_500, downMs / 2));
    const observations: Observation[] = [];
    const { attempt: order } = await call('POST', '/api/v1/orders', probe.token, PROBE_ORDER, { 'idempotency-key': randomUUID() });
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
      ok: login.status === 503 && isProblem(login),
      detail: `POST /auth/login → ${login.status} ${login.code ?? ''}`,
    });
    await Bun.sleep(Math.max(0, startedAt + downMs - Date.now()));
    await redisUp();
    return { target: `Redis (SIGKILL, ${downMs} ms down, data lost)`, startedAt, healedAt: Date.now(), observations };
  },
});

/** PostgreSQL stopped with `-m immediate` (a crash: the restart runs recovery); probes writes get a clear 503. */
export const postgres = (downMs = 5_000): Fault => ({
  name: 'crash PostgreSQL',
  async run({ probe }) {
    const startedAt = Date.now();
    pg.ctlNamed(PG_CLUSTER, 'stop', 'immediate');
    await Bun.sleep(500);
    const answers: Attempt[] = [];
    for (let i = 0; i < 3; i++)
      answers.push((await call('POST', '/api/v1/orders', probe.token, PROBE_ORDER, { 'idempotency-key': randomUUID() })).attempt);
    const ok = answers.every((a) => a.status === 503 && isProblem(a));
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
});

/** A pipeline worker frozen past its session timeout (its partitions move on), then thawed: a zombie. */
export const pause = (name: ServiceName = 'workers-b'): Fault => ({
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
});
