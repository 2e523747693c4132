/**
 * Every compose stage for real, one after the other, on the images built from Dockerfile.bun and
 * Dockerfile.node (local bases: ops/compose/local-images*.yml swaps only image names):
 *   dev      every health check green; the README walkthrough through nginx; the tracking page.
 *   staging  TLS 1.3 only on nginx (1.2 refused, plain HTTP redirected), 3 gateways and 2 edges; walkthrough.
 *   prod     3 brokers (replication 3, min.insync.replicas 2), a Redis Cluster, a PostgreSQL replica streaming;
 *            walkthrough; a broker stopped under order load (no acknowledged order lost, the pipeline goes
 *            on with 2 of 3); a gateway killed under load (only in-flight requests fail; nginx skips it);
 *            crashed containers brought back by their restart policy.
 * Run by `npm run test:containers` (ops/containers/test.mjs builds everything first).
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { connect } from 'node:tls';
import { Feed } from '../clients/feed';
import { versionInfo } from './build.mjs';
import { customer, eventually, PORTS, root, Stage, walkthrough } from './harness';
import { OrderLoad } from './load';

const MIN = 60_000;

function healthy(stage: Stage) {
  const cs = stage.containers();
  const jobs = new Set(['migrate', 'topics', 'redis-cluster-init']);
  const services = cs.filter((c) => !jobs.has(c.service));
  return { cs, services, unhealthy: services.filter((c) => c.state !== 'running' || c.health !== 'healthy') };
}

function count(stage: Stage, service: string) {
  return stage.running(service).length;
}

/** The TLS version nginx agrees to when the client allows only `version`, or the error. */
function tlsWith(version: 'TLSv1.2' | 'TLSv1.3', ca: string) {
  const [host, port] = PORTS.httpsBind.split(':');
  return new Promise<string>((resolve) => {
    const s = connect({ host, port: Number(port), ca, servername: 'localhost', minVersion: version, maxVersion: version }, () => {
      resolve(String(s.getProtocol()));
      s.end();
    });
    s.on('error', (e: Error) => resolve(`refused: ${e.message}`));
  });
}

async function terminal(stage: Stage, ids: string[]) {
  if (ids.length === 0) return { total: 0, terminal: 0, byStatus: {} as Record<string, number> };
  const list = ids.map((id) => `'${id}'`).join(',');
  const rows = stage.sql(`SELECT status, count(*) FROM orders WHERE id IN (${list}) GROUP BY status`);
  const byStatus = Object.fromEntries(
    rows
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('|'))
      .map(([s, n]) => [s, Number(n)]),
  ) as Record<string, number>;
  const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
  const done = (byStatus.shipped ?? 0) + (byStatus.failed ?? 0) + (byStatus.cancelled ?? 0);
  return { total, terminal: done, byStatus };
}

/** Waits until every one of `ids` is shipped, failed or cancelled; returns the counts by status. */
function allTerminal(stage: Stage, ids: string[], what: string, timeoutMs = 120_000) {
  return eventually(
    async () => {
      const t = await terminal(stage, ids);
      return t.terminal === ids.length ? t : null;
    },
    what,
    timeoutMs,
  );
}

/** Takes the stage down (leftovers of an earlier run), brings it up, and checks every health check. */
function freshUp(stage: Stage) {
  stage.down();
  const seconds = stage.up();
  const { services, unhealthy } = healthy(stage);
  console.log(`${stage.name}: ${services.length} containers healthy in ${seconds.toFixed(0)} s`);
  expect(unhealthy).toEqual([]);
  return services;
}

describe('dev', () => {
  const stage = new Stage('dev');
  afterAll(() => stage.down());

  test(
    'comes up with every health check green',
    () => {
      const services = freshUp(stage);
      expect(services.map((c) => c.service)).toEqual(
        expect.arrayContaining(['nginx', 'gateway', 'ws-edge', 'workers-pipeline', 'workers-webhooks', 'postgres', 'kafka-1']),
      );
    },
    15 * MIN,
  );

  test(
    'the README walkthrough through nginx: an order reaches shipped on the WebSocket',
    async () => {
      const r = await walkthrough(stage, 'dev');
      console.log(`dev: placed → shipped on the feed in ${r.shippedMs} ms (${r.statuses.join(' → ')})`);
      expect(r.statuses).toEqual(['validated', 'paid', 'reserved', 'shipped']);
      expect(r.readStatus).toBe('shipped');
    },
    MIN,
  );

  test(
    'the tracking page and the API document are served through nginx',
    async () => {
      const page = await stage.fetch('/track');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy') ?? '').toContain("default-src 'none'");
      const problem = await stage.fetch('/api/v1/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(problem.status).toBe(401);
      expect(problem.headers.get('content-type')).toContain('application/problem+json');
    },
    MIN,
  );

  test(
    'the replica streams from the primary',
    async () => {
      const state = stage.sql('SELECT state FROM pg_stat_replication');
      expect(state).toBe('streaming');
    },
    MIN,
  );

  test(
    'blue-green under load: switch to green and roll back with 0 failed requests and 0 lost WebSocket updates',
    async () => {
      const customers = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => customer(stage, `bg-${i}`)));
      const feeds = customers.map((c) => new Feed(c, stage.wsUrl, stage.ca ? { ca: stage.ca } : undefined));
      for (const f of feeds) f.connect();
      await eventually(() => feeds.every((f) => f.state().baseline !== undefined), 'every feed ready', 30_000);
      const load = new OrderLoad(stage, customers, 10, 2_000).start();
      const bg = stage.blueGreen((l) => console.log(`  ${l}`));
      // The images of this commit under their version tag: green runs them beside blue's `dev` tag.
      const tag = versionInfo(root).version;
      let deploy: Awaited<ReturnType<typeof bg.deploy>> | undefined;
      let rollback: Awaited<ReturnType<typeof bg.rollback>> | undefined;
      const windows: Array<[number, number]> = [];
      try {
        await eventually(() => load.acknowledgedSoFar >= 30, 'orders flowing before the switch', 30_000);
        let t = Date.now();
        deploy = await bg.deploy(tag);
        windows.push([t, Date.now()]);
        const mid = load.acknowledgedSoFar;
        await eventually(() => load.acknowledgedSoFar >= mid + 30, 'orders acknowledged on green', 60_000);
        expect(stage.running('gateway').length).toBe(0);
        expect(stage.running('gateway-green').length).toBeGreaterThan(0);
        t = Date.now();
        rollback = await bg.rollback();
        windows.push([t, Date.now()]);
        const back = load.acknowledgedSoFar;
        await eventually(() => load.acknowledgedSoFar >= back + 30, 'orders acknowledged after the rollback', 60_000);
      } finally {
        await load.stop();
      }
      // The load kept flowing while the switches ran (they are asynchronous): at least 80 % of the
      // scheduled 10/s left inside each switch's window.
      for (const [from, to] of windows)
        expect(load.sentBetween(from, to)).toBeGreaterThanOrEqual(Math.floor(((to - from) / 1000) * 10 * 0.8));
      const res = await load.stop();
      expect(stage.running('gateway').length).toBeGreaterThan(0);
      expect(stage.running('gateway-green').length).toBe(0);
      const all = await allTerminal(stage, res.acknowledged, 'every acknowledged order to reach a terminal status', 120_000);
      // Every status change of every acknowledged order reached its owner's feed, without a gap.
      for (const f of feeds) await f.settle();
      let missing = 0;
      for (const [id, owner] of res.owners) {
        const feed = feeds[customers.indexOf(owner)] as Feed;
        const got = new Set(feed.updates.filter((u) => u.orderId === id).map((u) => u.status));
        for (const s of ['validated', 'paid', 'reserved', 'shipped']) if (!got.has(s)) missing++;
      }
      const gaps = feeds.map((f) => f.state()).filter((s) => s.contiguous !== s.maxSeen).length;
      const reconnects = feeds.reduce((a, f) => a + f.reconnects, 0);
      for (const f of feeds) f.close();
      console.log(
        `dev blue-green: ${res.sent} orders at 10/s, ${res.acknowledged.length} acknowledged, failed requests ${res.firstAttemptFailures.length} ` +
          `${JSON.stringify(res.firstAttemptFailures.slice(0, 5))}; switch to green ${deploy?.totalS.toFixed(1)} s (healthy after ${deploy?.healthyAfterS.toFixed(1)} s), ` +
          `rollback ${rollback?.totalS.toFixed(1)} s; sent during the switches ${windows.map(([a, b]) => load.sentBetween(a, b)).join(' + ')}; feeds: ${reconnects} reconnects, ${missing} updates missing, ${gaps} with gaps; ${JSON.stringify(all.byStatus)}`,
      );
      expect(res.firstAttemptFailures).toEqual([]);
      expect(res.unacknowledged).toBe(0);
      expect(all.total).toBe(res.acknowledged.length);
      expect(missing).toBe(0);
      expect(gaps).toBe(0);
      expect(reconnects).toBeGreaterThan(0);
    },
    10 * MIN,
  );
});

describe('staging', () => {
  const stage = new Stage('staging', ['ops/containers/staging-no-declines.yml']);
  afterAll(() => stage.down());

  test(
    'comes up with 3 gateways, 2 edges and every health check green',
    () => {
      freshUp(stage);
      expect(count(stage, 'gateway')).toBe(3);
      expect(count(stage, 'ws-edge')).toBe(2);
      stage.seedProducts();
    },
    15 * MIN,
  );

  test(
    'nginx speaks TLS 1.3 only and redirects plain HTTP',
    async () => {
      const ca = stage.ca as string;
      expect(await tlsWith('TLSv1.3', ca)).toBe('TLSv1.3');
      // Refused by the handshake itself (a protocol-version alert), not for any other reason.
      expect(await tlsWith('TLSv1.2', ca)).toMatch(
        /^refused: .*(protocol version|PROTOCOL_VERSION|unsupported protocol|UNSUPPORTED_PROTOCOL)/i,
      );
      const plain = await fetch(`http://${PORTS.httpBind}/api/v1/products`, { redirect: 'manual' });
      expect(plain.status).toBe(301);
      expect(plain.headers.get('location')).toStartWith('https://');
    },
    MIN,
  );

  test(
    'the walkthrough over TLS: an order reaches shipped on the WebSocket',
    async () => {
      const r = await walkthrough(stage, 'staging');
      console.log(`staging: placed → shipped on the feed in ${r.shippedMs} ms`);
      expect(r.statuses).toEqual(['validated', 'paid', 'reserved', 'shipped']);
      expect(r.readStatus).toBe('shipped');
    },
    MIN,
  );
});

describe('prod', () => {
  const stage = new Stage('prod', ['ops/containers/prod-simulated-provider.yml']);
  afterAll(() => stage.down());

  test(
    'comes up: 3 brokers with replication 3 and min.insync.replicas 2, a Redis Cluster, a streaming replica',
    () => {
      freshUp(stage);
      for (const [svc, n] of Object.entries({ gateway: 3, 'ws-edge': 2, 'workers-pipeline': 3, 'workers-webhooks': 2 }))
        expect(count(stage, svc)).toBe(n);
      const kafka = JSON.parse(
        stage.exec('gateway', [
          'bun',
          '-e',
          `const { Kafka } = await import('kafkajs');
           const a = new Kafka({ brokers: process.env.KAFKA_BROKERS.split(','), logLevel: 0 }).admin();
           await a.connect();
           const md = await a.fetchTopicMetadata({ topics: ['orders.events'] });
           const c = await a.describeConfigs({ resources: [{ type: 2, name: 'orders.events', configNames: ['min.insync.replicas'] }], includeSynonyms: false });
           console.log(JSON.stringify({ brokers: (await a.describeCluster()).brokers.length, replicas: md.topics[0].partitions.map((p) => p.replicas.length), minIsr: c.resources[0].configEntries[0].configValue }));
           await a.disconnect();`,
        ]).stdout,
      );
      expect(kafka.brokers).toBe(3);
      expect(new Set(kafka.replicas)).toEqual(new Set([3]));
      expect(kafka.minIsr).toBe('2');
      const cluster = stage.exec('redis', ['sh', '-c', 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli cluster info']).stdout;
      expect(cluster).toContain('cluster_state:ok');
      expect(cluster).toContain('cluster_known_nodes:6');
      expect(stage.sql('SELECT state FROM pg_stat_replication')).toBe('streaming');
      stage.seedProducts();
    },
    15 * MIN,
  );

  test(
    'the walkthrough over TLS: an order reaches shipped on the WebSocket',
    async () => {
      const r = await walkthrough(stage, 'prod');
      console.log(`prod: placed → shipped on the feed in ${r.shippedMs} ms`);
      expect(r.statuses).toEqual(['validated', 'paid', 'reserved', 'shipped']);
    },
    MIN,
  );

  test(
    'a broker stopped under order load: no acknowledged order lost, the pipeline goes on with 2 of 3',
    async () => {
      const customers = await Promise.all([1, 2, 3, 4].map((i) => customer(stage, `broker-${i}`)));
      const load = new OrderLoad(stage, customers, 15, 450).start();
      let stoppedAt = 0;
      let before = 0;
      try {
        await eventually(() => load.acknowledgedSoFar >= 40, 'orders flowing before the broker stops', 30_000);
        stoppedAt = Date.now();
        stage.compose(['stop', '-t', '0', 'kafka-2']);
        // Orders placed while the broker is down must still ship: the pipeline runs on the other two.
        before = load.acknowledgedSoFar;
        await eventually(() => load.acknowledgedSoFar >= before + 60, 'orders acknowledged with a broker down', 60_000);
      } finally {
        await load.stop();
      }
      const res = await load.stop();
      const downIds = res.acknowledged.slice(before, before + 60);
      const whileDown = await allTerminal(stage, downIds, 'orders placed with a broker down to finish while it is still down', 120_000);
      const downFor = (Date.now() - stoppedAt) / 1000;
      stage.compose(['start', 'kafka-2']);
      const all = await allTerminal(stage, res.acknowledged, 'every acknowledged order to reach a terminal status', 180_000);
      console.log(
        `prod broker stop: ${res.sent} orders sent, ${res.acknowledged.length} acknowledged, ${res.unacknowledged} not, ` +
          `${res.firstAttemptFailures.length} first attempts failed (${JSON.stringify(res.firstAttemptFailures.slice(0, 5))}), ` +
          `broker down ${downFor.toFixed(0)} s, all terminal: ${JSON.stringify(all.byStatus)}; placed while down: ${JSON.stringify(whileDown.byStatus)}`,
      );
      expect(res.unacknowledged).toBe(0);
      expect(all.total).toBe(res.acknowledged.length);
      expect(new Set(res.acknowledged).size).toBe(res.acknowledged.length);
      // The broker itself comes back healthy (its health check asks it for its API versions).
      await eventually(
        () => stage.running('kafka-2').some((c) => c.health === 'healthy'),
        'kafka-2 healthy again after its start',
        120_000,
        2_000,
      );
      const others = healthy(stage).unhealthy.map((c) => `${c.name} ${c.state} ${c.health}`);
      if (others.length > 0) console.log(`  not healthy right after the broker's return (reported, not failed): ${others.join(', ')}`);
    },
    8 * MIN,
  );

  test(
    'a gateway killed under load: only the requests it had fail, nginx sends the rest elsewhere',
    async () => {
      const customers = await Promise.all([1, 2, 3, 4].map((i) => customer(stage, `gw-${i}`)));
      const load = new OrderLoad(stage, customers, 30, 900).start();
      const victim = stage.running('gateway')[1];
      if (!victim) throw new Error('no second gateway');
      const restartsBefore = stage.restarts(victim.name);
      let killedAt = 0;
      try {
        await eventually(() => load.acknowledgedSoFar >= 60, 'orders flowing before the kill', 30_000);
        load.mark('kill');
        killedAt = Date.now() - load.startedAt;
        stage.crash(victim.name);
        await eventually(() => load.acknowledgedSoFar >= 300, 'orders acknowledged after the kill', 60_000);
      } finally {
        await load.stop();
      }
      const res = await load.stop();
      const failed = res.firstAttemptFailures.filter((f) => f.at >= killedAt);
      console.log(
        `prod gateway kill: ${res.sent} orders at 30/s, ${res.acknowledged.length} acknowledged, in flight at the kill ` +
          `${res.inFlightAt.kill}, first attempts failed after it: ${failed.length} ${JSON.stringify(failed.map((f) => ({ ...f, at: f.at - killedAt })))}`,
      );
      // Requests the killed gateway had (in flight at the kill, or written by nginx onto its kept-alive
      // connection to it before it noticed) cannot be answered: nginx does not re-send a POST, it answers
      // 502, and the client retries with its key. Nothing fails once nginx has taken the gateway out.
      expect(failed.filter((f) => f.at > killedAt + 1_000)).toEqual([]);
      expect(failed.every((f) => f.status === 502)).toBe(true);
      // The restart policy brings the crashed gateway back, and it turns healthy again.
      await eventually(
        () => stage.restarts(victim.name) > restartsBefore && stage.inspect(victim.name, '{{.State.Health.Status}}') === 'healthy',
        `${victim.name} restarted by its policy and healthy`,
        90_000,
        1_000,
      );
      expect(res.unacknowledged).toBe(0);
      const all = await allTerminal(stage, res.acknowledged, 'every acknowledged order to reach a terminal status', 120_000);
      expect(all.total).toBe(res.acknowledged.length);
    },
    6 * MIN,
  );

  test(
    'crashed containers come back by their restart policy: an edge and a pipeline worker',
    async () => {
      for (const service of ['ws-edge', 'workers-pipeline']) {
        const victim = stage.running(service)[0];
        if (!victim) throw new Error(`no ${service} running`);
        const before = stage.restarts(victim.name);
        stage.crash(victim.name);
        await eventually(
          () => stage.restarts(victim.name) > before && stage.inspect(victim.name, '{{.State.Health.Status}}') === 'healthy',
          `${victim.name} restarted by its policy and healthy`,
          120_000,
          1_000,
        );
      }
      const r = await walkthrough(stage, 'prod-after');
      expect(r.statuses).toEqual(['validated', 'paid', 'reserved', 'shipped']);
    },
    6 * MIN,
  );
});
