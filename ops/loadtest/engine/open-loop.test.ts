import { afterAll, expect, test } from 'bun:test';
import { httpClient } from './http';
import { runOpenLoop } from './open-loop';
import { Recorder } from './recorder';

let delayMs = 0;
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: async () => {
    await Bun.sleep(delayMs);
    return new Response('ok');
  },
});
afterAll(() => server.stop(true));

test('requests leave on schedule whatever the answers, latency counted from the schedule', async () => {
  delayMs = 150;
  const recorder = new Recorder(['x']);
  const client = httpClient(`http://127.0.0.1:${server.port}`, { maxSockets: 100, timeoutMs: 5_000 });
  recorder.start();
  await runOpenLoop({
    client,
    recorder,
    durationS: 1,
    rateAt: () => 100,
    pick: () => ({ cls: 'x', req: { method: 'GET', path: '/' } }),
    maxInFlight: 100,
  });
  client.close();
  const t = recorder.totals();
  // A closed loop on a few connections would have sent a handful; the schedule sends all 100.
  expect(t.offered).toBe(100);
  expect(t.achieved).toBe(100);
  expect(t.latencyMs?.p50).toBeGreaterThanOrEqual(150);
});

test('past the in-flight bound requests are dropped, and counted', async () => {
  delayMs = 400;
  const recorder = new Recorder(['x']);
  const client = httpClient(`http://127.0.0.1:${server.port}`, { maxSockets: 10, timeoutMs: 5_000 });
  recorder.start();
  await runOpenLoop({
    client,
    recorder,
    durationS: 0.3,
    rateAt: () => 100,
    pick: () => ({ cls: 'x', req: { method: 'GET', path: '/' } }),
    maxInFlight: 10,
  });
  client.close();
  const t = recorder.totals();
  expect(t.offered).toBe(30);
  expect(t.sent).toBe(10);
  expect(t.dropped).toBe(20);
  expect(t.achieved).toBe(10);
});
