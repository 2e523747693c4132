/**
 * The ws-storm engine in short mode against the real services: the end-to-end harness's gateway and
 * edge (test ports, a namespace of its own), plus the edge the engine starts itself and restarts for the
 * wave. Proves that every socket opens, that updates published as the platform publishes them arrive
 * with a measured latency, that every socket the restart dropped reconnects and resumes (no resync),
 * that refreshed tokens are taken on open sockets, that no update is lost, and that nothing the engine
 * started is left running.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { edgeUrl, env, gatewayUrl, mode, type Services, start, stop, useNamespace } from '../../e2e/harness';
import { edgeReady } from './edges';
import { runWsStorm, type WsSecond } from './index';

let services: Services;

beforeAll(async () => {
  await useNamespace('e2ewsstorm');
  services = await start(['gateway', 'ws-edge']);
}, 120_000);

afterAll(async () => {
  if (services) await stop(services);
}, 60_000);

test('short ws-storm: sockets open, deliveries arrive with their latency, the wave resumes every dropped socket', async () => {
  const seconds: WsSecond[] = [];
  const lines: string[] = [];
  const { summary, perSecond } = await runWsStorm(
    {
      gatewayUrl,
      wsUrls: [edgeUrl],
      connections: 300,
      publishRate: 50,
      durationS: 3,
      reconnectWave: true,
      short: true,
      namespace: mode.namespace,
      stage: 'test',
      redisUrl: env.REDIS_URL,
      handleSignals: false,
      // Refresh every user's token ~3 s after minting (then again every ~3 s): auth frames on open sockets.
      tokenRefreshLeadS: 897,
      log: (line) => lines.push(line),
    },
    (s) => seconds.push(s),
  );
  const context = `${lines.join('\n')}\n${JSON.stringify(summary, null, 1).slice(0, 3000)}`;

  // Sockets: all 300 open, over the harness's edge and one the engine started (3 client processes).
  expect(summary.opened, context).toBe(300);
  expect(summary.connect.allOpen).toBe(true);
  expect(summary.target.clientProcesses).toBe(3);
  expect(summary.processes.clients.map((c) => c.sockets)).toEqual([100, 100, 100]);
  expect(summary.edges.map((e) => e.started)).toEqual([false, true]);

  // Deliveries: measured, and every owed one received (live or replayed after the wave).
  expect(summary.delivery.published).toBeGreaterThan(100);
  expect(summary.delivery.count).toBeGreaterThan(500);
  expect(summary.deliveryP99Ms).toBeGreaterThan(0);
  expect(summary.deliveryP99Ms as number).toBeLessThan(1_000);
  expect(summary.delivery.delivered, context).toBe(summary.delivery.expected);
  expect(summary.delivery.publishFailures).toBe(0);

  // The wave: the started edge's half of the sockets dropped (1012), each reopened and resumed.
  if ('skipped' in summary.wave) throw new Error(`wave skipped: ${summary.wave.skipped}`);
  const wave = summary.wave;
  expect(wave.edge).toBe(summary.edges[1]?.url as string);
  expect(wave.completed, context).toBe(true);
  expect(wave.dropped).toBe(150);
  expect(wave.resumed).toBe(wave.dropped);
  expect(wave.resync).toBe(0);
  expect(summary.errors.closesByCode['1012']).toBe(150);
  expect(wave.allOpenMs).toBeGreaterThan(0);
  expect(wave.allResumedMs as number).toBeGreaterThanOrEqual(wave.allOpenMs as number);
  expect(wave.replay.count).toBeGreaterThan(0);

  // Tokens refreshed on the open sockets, accepted (no 4401 anywhere).
  expect(summary.target.tokenRefreshes).toBeGreaterThan(0);
  expect(summary.target.socketsReauthenticated).toBeGreaterThan(0);
  expect(summary.errors.closesByCode['4401']).toBeUndefined();

  // Nothing lost, every socket checked.
  expect(summary.loss, context).toMatchObject({ checked: 300, lost: 0, socketsWithLoss: 0, resynced: 0, notOpen: 0 });
  expect(summary.errors.total, context).toBe(0);

  // Per second: the caller saw every second, with latency while publishing and the resumes in the wave.
  expect(seconds).toEqual(perSecond);
  expect(seconds.some((s) => s.phase === 'steady' && s.deliveryP99Ms !== null && s.delivered > 0)).toBe(true);
  expect(seconds.filter((s) => s.phase === 'wave').reduce((n, s) => n + s.resumed, 0)).toBe(150);

  // Everything the engine started is stopped.
  expect(await edgeReady(summary.edges[1]?.url as string)).toBe(false);
  for (const c of summary.processes.clients) expect(() => process.kill(c.pid, 0)).toThrow();
}, 120_000);

test('a wrong namespace is named, and everything the run started is stopped', async () => {
  const lines: string[] = [];
  const run = runWsStorm(
    {
      gatewayUrl,
      wsUrls: [edgeUrl],
      connections: 50,
      publishRate: 50,
      durationS: 3,
      reconnectWave: false,
      short: true,
      namespace: 'e2ewsstorm-elsewhere',
      stage: 'test',
      redisUrl: env.REDIS_URL,
      handleSignals: false,
      log: (line) => lines.push(line),
    },
    () => {},
  );
  // The edge the run started shares the wrong namespace and delivers; the target's own edge does not.
  await expect(run).rejects.toThrow(new RegExp(`reached no socket on ${edgeUrl}: are redisUrl and namespace the target's\\?`));
  const started = /edges: .*, (ws:\/\/\S+)/.exec(lines.join('\n'))?.[1];
  expect(started).toBeDefined();
  expect(await edgeReady(started as string)).toBe(false);
  const pids = (/client processes \(pids ([\d, ]+);/.exec(lines.join('\n'))?.[1] ?? '').split(', ').map(Number);
  expect(pids).toHaveLength(3);
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
}, 60_000);
