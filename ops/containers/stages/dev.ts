/**
 * The dev stage: every health check green, the README walkthrough and the tracking page through nginx,
 * the replica streaming, and a blue-green switch and rollback under order load with no failed request
 * and no lost WebSocket update.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { eventually } from '@orders/platform/testing';
import { Feed } from '../../clients/feed';
import { versionInfo } from '../build.mjs';
import { customer, root, Stage } from '../harness';
import { OrderLoad } from '../load';
import { allTerminal, freshUp, MIN, walkthroughTest } from './support';

export function devStage() {
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

    walkthroughTest(stage, 'the README walkthrough through nginx: an order reaches shipped on the WebSocket', { readBack: true });

    test(
      'the tracking page and the API document are served through nginx',
      async () => {
        const page = await stage.fetch('/track');
        expect(page.status).toBe(200);
        expect(page.headers.get('content-security-policy') ?? '').toContain("default-src 'none'");
        const problem = await stage.fetch('/api/v1/orders', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        });
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
        await eventually(() => feeds.every((f) => f.state().baseline !== undefined), {
          what: 'every feed ready',
          timeoutMs: 30_000,
          everyMs: 500,
        });
        const load = new OrderLoad(stage, customers, 10, 2_000).start();
        const bg = stage.blueGreen((l) => console.log(`  ${l}`));
        // The images of this commit under their version tag: green runs them beside blue's `dev` tag.
        const tag = versionInfo(root).version;
        let deploy: Awaited<ReturnType<typeof bg.deploy>> | undefined;
        let rollback: Awaited<ReturnType<typeof bg.rollback>> | undefined;
        const windows: Array<[number, number]> = [];
        try {
          await eventually(() => load.acknowledgedSoFar >= 30, {
            what: 'orders flowing before the switch',
            timeoutMs: 30_000,
            everyMs: 500,
          });
          let t = Date.now();
          deploy = await bg.deploy(tag);
          windows.push([t, Date.now()]);
          const mid = load.acknowledgedSoFar;
          await eventually(() => load.acknowledgedSoFar >= mid + 30, {
            what: 'orders acknowledged on green',
            timeoutMs: 60_000,
            everyMs: 500,
          });
          expect(stage.running('gateway').length).toBe(0);
          expect(stage.running('gateway-green').length).toBeGreaterThan(0);
          t = Date.now();
          rollback = await bg.rollback();
          windows.push([t, Date.now()]);
          const back = load.acknowledgedSoFar;
          await eventually(() => load.acknowledgedSoFar >= back + 30, {
            what: 'orders acknowledged after the rollback',
            timeoutMs: 60_000,
            everyMs: 500,
          });
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
}
