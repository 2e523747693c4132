/** The sender's loop against a stub database: how long it waits between claims. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics, type DestinationPolicy, type Logger, type SecretBox, type Sql } from '@orders/platform';
import type { ClaimResult } from './claim';
import { WebhookSender } from './sender';

const POLL_MS = 60_000;

/** A sender whose claims resolve or reject in turn, and the delays of the waits it schedules. */
function senderWith(claims: (() => ClaimResult)[]) {
  const sql = {
    begin: async () => {
      const next = claims.shift();
      if (!next) throw new Error('database down');
      return next();
    },
    listen: async () => ({ unlisten: async () => {} }),
  } as unknown as Sql; // only what the loop calls; the gauges' query fails and is ignored
  const logger = { error: () => {}, warn: () => {}, info: () => {} } as unknown as Logger;
  const sender = new WebhookSender({
    sql,
    box: {} as SecretBox,
    policy: {} as DestinationPolicy,
    logger,
    metrics: createMetrics('webhook-sender-test'),
    timeScale: 1,
    timeoutMs: 1_000,
    concurrency: 4,
    maxInFlightPerEndpoint: 2,
    pollMs: POLL_MS,
    breakerFailures: 5,
    breakerCooldownMs: 1_000,
    disableAfterFailures: 10,
    disableAfterMs: 60_000,
  });
  return sender;
}

describe('webhook sender loop', () => {
  it('waits the poll after a failed claim, even with a wake-up that has passed', async (t) => {
    const delays: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    t.mock.method(globalThis, 'setTimeout', ((fn: () => void, ms?: number) => {
      delays.push(ms ?? 0);
      return realSetTimeout(fn, ms);
    }) as typeof setTimeout);
    // The first claim fills an endpoint with room again at once (a wake-up ~5 ms on); the next fails.
    const sender = senderWith([() => ({ messages: [], roomAgainInMs: [0] })]);
    await sender.start();
    await new Promise((resolve) => realSetTimeout(resolve, 100));
    await sender.stop();
    assert.ok(delays.length >= 2, `waits: ${delays.join(', ')}`);
    assert.ok((delays[0] ?? 0) > 0 && (delays[0] ?? 0) <= 5, `first wait: ${delays[0]}`);
    // The failed claim: no pause-free retries, one wait of the poll (stopped during it).
    assert.deepEqual(delays.slice(1), [POLL_MS]);
  });
});
