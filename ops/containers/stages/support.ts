/**
 * What the stage suites share: a stage's container health, a fresh `up` checked container by container,
 * waiting for orders to finish (read from the stage's own PostgreSQL), and the README walkthrough as a test.
 */
import { expect, test } from 'bun:test';
import { eventually } from '@orders/platform/testing';
import { type Stage, walkthrough } from '../harness';

export const MIN = 60_000;

export function healthy(stage: Stage) {
  const cs = stage.containers();
  const jobs = new Set(['migrate', 'topics', 'redis-cluster-init']);
  const services = cs.filter((c) => !jobs.has(c.service));
  return { cs, services, unhealthy: services.filter((c) => c.state !== 'running' || c.health !== 'healthy') };
}

export function count(stage: Stage, service: string) {
  return stage.running(service).length;
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
export function allTerminal(stage: Stage, ids: string[], what: string, timeoutMs = 120_000) {
  return eventually(
    async () => {
      const t = await terminal(stage, ids);
      return t.terminal === ids.length ? t : null;
    },
    { what, timeoutMs, everyMs: 500 },
  );
}

/** Takes the stage down (leftovers of an earlier run), brings it up, and checks every health check. */
export function freshUp(stage: Stage) {
  stage.down();
  const seconds = stage.up();
  const { services, unhealthy } = healthy(stage);
  console.log(`${stage.name}: ${services.length} containers healthy in ${seconds.toFixed(0)} s`);
  expect(unhealthy).toEqual([]);
  return services;
}

/**
 * The README walkthrough as a test: an order placed through nginx reaches `shipped` on the owner's feed
 * (and, with readBack, on a read of the order afterwards).
 */
export function walkthroughTest(stage: Stage, title: string, opts: { readBack: boolean }) {
  test(
    title,
    async () => {
      const r = await walkthrough(stage, stage.name);
      console.log(`${stage.name}: placed → shipped on the feed in ${r.shippedMs} ms (${r.statuses.join(' → ')})`);
      expect(r.statuses).toEqual(['validated', 'paid', 'reserved', 'shipped']);
      if (opts.readBack) expect(r.readStatus).toBe('shipped');
    },
    MIN,
  );
}
