/**
 * The prod stage: 3 brokers (replication 3, min.insync.replicas 2), a Redis Cluster and a streaming
 * PostgreSQL replica; the walkthrough; a broker stopped under order load (no acknowledged order lost, the
 * pipeline goes on with 2 of 3); a gateway killed under load (only its in-flight requests fail); crashed
 * containers brought back by their restart policy.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { eventually } from '@orders/platform/testing';
import { customer, Stage, walkthrough } from '../harness';
import { OrderLoad } from '../load';
import { allTerminal, count, freshUp, healthy, MIN, walkthroughTest } from './support';

export function prodStage() {
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

    walkthroughTest(stage, 'the walkthrough over TLS: an order reaches shipped on the WebSocket', { readBack: false });

    test(
      'a broker stopped under order load: no acknowledged order lost, the pipeline goes on with 2 of 3',
      async () => {
        const customers = await Promise.all([1, 2, 3, 4].map((i) => customer(stage, `broker-${i}`)));
        const load = new OrderLoad(stage, customers, 15, 450).start();
        let stoppedAt = 0;
        let before = 0;
        try {
          await eventually(() => load.acknowledgedSoFar >= 40, {
            what: 'orders flowing before the broker stops',
            timeoutMs: 30_000,
            everyMs: 500,
          });
          stoppedAt = Date.now();
          stage.compose(['stop', '-t', '0', 'kafka-2']);
          // Orders placed while the broker is down must still ship: the pipeline runs on the other two.
          before = load.acknowledgedSoFar;
          await eventually(() => load.acknowledgedSoFar >= before + 60, {
            what: 'orders acknowledged with a broker down',
            timeoutMs: 60_000,
            everyMs: 500,
          });
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
        await eventually(() => stage.running('kafka-2').some((c) => c.health === 'healthy'), {
          what: 'kafka-2 healthy again after its start',
          timeoutMs: 120_000,
          everyMs: 2_000,
        });
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
          await eventually(() => load.acknowledgedSoFar >= 60, { what: 'orders flowing before the kill', timeoutMs: 30_000, everyMs: 500 });
          load.mark('kill');
          killedAt = Date.now() - load.startedAt;
          stage.crash(victim.name);
          await eventually(() => load.acknowledgedSoFar >= 300, {
            what: 'orders acknowledged after the kill',
            timeoutMs: 60_000,
            everyMs: 500,
          });
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
          { what: `${victim.name} restarted by its policy and healthy`, timeoutMs: 90_000, everyMs: 1_000 },
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
            { what: `${victim.name} restarted by its policy and healthy`, timeoutMs: 120_000, everyMs: 1_000 },
          );
        }
        const r = await walkthrough(stage, 'prod-after');
        expect(r.statuses).toEqual(['validated', 'paid', 'reserved', 'shipped']);
      },
      6 * MIN,
    );
  });
}
