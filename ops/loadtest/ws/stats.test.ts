/**
 * ws-storm's pure parts: merging the client processes' per-second reports (counts summed, gauges the
 * latest per process, latency histograms merged exactly), a socket's sequence bookkeeping, and the plan
 * (caps, users per process, edges per socket).
 */
import { describe, expect, test } from 'bun:test';
import { assign, LIMITS, planRun } from './index';
import type { WorkerTick } from './protocol';
import { SeqTracker } from './seq-tracker';
import { decodeHistogram, emptyTotals, encodeHistogram, newHistogram, recordMs, StatsMerger } from './stats';

function tick(worker: number, over: Partial<WorkerTick> & { lat?: number[]; rep?: number[] } = {}): WorkerTick {
  const live = newHistogram();
  for (const ms of over.lat ?? []) recordMs(live, ms);
  const replay = newHistogram();
  for (const ms of over.rep ?? []) recordMs(replay, ms);
  const { lat: _lat, rep: _rep, ...rest } = over;
  return {
    type: 'tick',
    worker,
    pid: 1000 + worker,
    at: Date.now(),
    sockets: 100,
    open: 0,
    connecting: 0,
    ...emptyTotals(),
    delivered: over.lat?.length ?? 0,
    replayed: over.rep?.length ?? 0,
    deliveredByEdge: [over.lat?.length ?? 0],
    live: encodeHistogram(live),
    replay: encodeHistogram(replay),
    rssBytes: 50 * 2 ** 20,
    cpuMicros: 0,
    loopLagMs: 0,
    wave: { dropped: 0, reopened: 0, resumed: 0, resync: 0, lastReopenAt: 0, lastDoneAt: 0 },
    ...rest,
  };
}

describe('histograms', () => {
  test('survive encoding; an empty one travels as an empty string', () => {
    const h = newHistogram();
    for (let i = 1; i <= 1000; i++) recordMs(h, i / 10);
    const back = decodeHistogram(encodeHistogram(h));
    expect(back.totalCount).toBe(1000);
    expect(back.getValueAtPercentile(99)).toBe(h.getValueAtPercentile(99));
    expect(encodeHistogram(newHistogram())).toBe('');
    expect(decodeHistogram('').totalCount).toBe(0);
  });

  test('negative latencies (clock noise between processes) count as 0', () => {
    const h = newHistogram();
    recordMs(h, -0.3);
    expect(h.totalCount).toBe(1);
    expect(h.maxValue).toBe(0);
  });
});

describe('StatsMerger', () => {
  test('sums counts across processes, and percentiles are those of all samples together', () => {
    const m = new StatsMerger();
    // Process 0 is fast, process 1 slow: the merged p99 must come from process 1's tail, p50 between.
    const fast = Array.from({ length: 900 }, (_, i) => 1 + (i % 10) / 10);
    const slow = Array.from({ length: 100 }, (_, i) => 100 + i);
    m.add(tick(0, { open: 600, connecting: 4, lat: fast, errors: 1, errorKinds: { x: 1 }, closes: { 1012: 3 }, loopLagMs: 3 }), 'steady');
    m.add(
      tick(1, { open: 300, connecting: 1, lat: slow, errors: 2, errorKinds: { x: 1, y: 1 }, closes: { 1012: 2 }, loopLagMs: 40 }),
      'steady',
    );
    const s = m.takeSecond(7, 'steady', 42);
    expect(s).toMatchObject({
      t: 7,
      phase: 'steady',
      open: 900,
      connecting: 5,
      delivered: 1000,
      errors: 3,
      published: 42,
      clientLagMs: 40,
    });
    expect(m.lag.get('steady')).toBe(40);
    const all = [...fast, ...slow].sort((a, b) => a - b);
    const exact = (p: number) => all[Math.ceil((p / 100) * all.length) - 1] as number;
    // hdr keeps 3 significant digits.
    expect(Math.abs((s.deliveryP99Ms as number) - exact(99))).toBeLessThan(exact(99) * 0.002);
    expect(Math.abs((s.deliveryP50Ms as number) - exact(50))).toBeLessThan(exact(50) * 0.002);
    expect(m.totals.errorKinds).toEqual({ x: 2, y: 1 });
    expect(m.totals.deliveredByEdge).toEqual([1000]);
    expect(m.totals.closes).toEqual({ 1012: 5 });
  });

  test('gauges are each process’s latest report, not a sum over its reports', () => {
    const m = new StatsMerger();
    m.add(tick(0, { open: 10, rssBytes: 100 }), 'connect');
    m.add(tick(0, { open: 25, rssBytes: 80 }), 'connect');
    m.add(tick(1, { open: 5 }), 'connect');
    expect(m.open).toBe(30);
    const [p0] = m.processes();
    expect(p0).toMatchObject({ pid: 1000, rssBytes: 80, peakRssBytes: 100 });
  });

  test('a second with no delivery has no percentiles; each second starts afresh', () => {
    const m = new StatsMerger();
    m.add(tick(0, { lat: [5, 6, 7] }), 'steady');
    expect(m.takeSecond(1, 'steady', 0).delivered).toBe(3);
    const empty = m.takeSecond(2, 'steady', 0);
    expect(empty).toMatchObject({ delivered: 0, deliveryP50Ms: null, deliveryP99Ms: null });
  });

  test('a process’s late report is merged into the next second, and the totals lose nothing', () => {
    const m = new StatsMerger();
    m.add(tick(0, { lat: [1, 1] }), 'steady');
    const first = m.takeSecond(1, 'steady', 0);
    m.add(tick(1, { lat: [2, 2, 2] }), 'steady'); // process 1's report for second 1, late
    m.add(tick(0, { lat: [1] }), 'steady');
    const second = m.takeSecond(2, 'steady', 0);
    expect(first.delivered + second.delivered).toBe(6);
    expect(m.totals.delivered).toBe(6);
    expect(m.latency(['steady']).count).toBe(6);
  });

  test('latency is kept per phase; replays apart from live deliveries', () => {
    const m = new StatsMerger();
    m.add(tick(0, { lat: [1, 2, 3] }), 'steady');
    m.add(tick(0, { lat: [50], rep: [900, 1100] }), 'wave');
    const steady = m.latency(['steady']);
    expect(steady.count).toBe(3);
    expect(steady.maxMs).toBeCloseTo(3, 2); // within hdr's 3 significant digits
    const wave = m.latency(['wave']);
    expect(wave.count).toBe(1);
    expect(wave.p50Ms).toBeCloseTo(50, 0);
    expect(m.latency(['wave'], 'replay').count).toBe(2);
    expect(m.latency(['steady', 'wave']).count).toBe(4);
    expect(m.totals).toMatchObject({ delivered: 6, replayed: 2 });
  });

  test('wave counts are summed over processes; instants are the latest', () => {
    const m = new StatsMerger();
    m.add(tick(0, { wave: { dropped: 10, reopened: 10, resumed: 9, resync: 1, lastReopenAt: 5_000, lastDoneAt: 5_100 } }), 'wave');
    m.add(tick(1, { wave: { dropped: 7, reopened: 6, resumed: 6, resync: 0, lastReopenAt: 5_300, lastDoneAt: 5_050 } }), 'wave');
    expect(m.wave).toEqual({ dropped: 17, reopened: 16, resumed: 15, resync: 1, lastReopenAt: 5_300, lastDoneAt: 5_100 });
    // A later report replaces the process's counts (they are totals of the wave so far).
    m.add(tick(1, { wave: { dropped: 7, reopened: 7, resumed: 7, resync: 0, lastReopenAt: 5_400, lastDoneAt: 5_450 } }), 'wave');
    expect(m.wave).toMatchObject({ dropped: 17, reopened: 17, resumed: 16 });
  });
});

describe('SeqTracker', () => {
  test('counts from ready.seq; out-of-order updates fill the contiguous point', () => {
    const t = new SeqTracker();
    expect(t.ready(4)).toBe('first');
    expect(t.update(6)).toBe('new');
    expect(t.contiguous).toBe(4);
    expect(t.update(5)).toBe('new');
    expect(t.contiguous).toBe(6);
    expect(t.update(5)).toBe('repeat');
    expect(t.missing(8)).toBe(2);
    expect(t.ready(6)).toBe('again');
  });

  test('live updates that beat the first ready are kept', () => {
    const t = new SeqTracker();
    expect(t.update(3)).toBe('new');
    expect(t.update(3)).toBe('repeat');
    t.ready(2);
    expect(t.contiguous).toBe(3);
    expect(t.missing(3)).toBe(0);
  });

  test('a replay overlapping what came live counts repeats, not new updates', () => {
    const t = new SeqTracker();
    t.ready(0);
    t.update(1);
    t.update(3); // 2 missed while reconnecting
    expect(t.missing(3)).toBe(1);
    expect(t.update(2)).toBe('new'); // replayed
    expect(t.update(3)).toBe('repeat'); // replayed again
    expect(t.missing(3)).toBe(0);
  });

  test('resync: from then on the socket is not verifiable', () => {
    const t = new SeqTracker();
    t.ready(1);
    t.update(5);
    t.resync();
    expect(t.resynced).toBe(true);
    expect(t.contiguous).toBe(5);
  });
});

describe('plan', () => {
  const base = {
    gatewayUrl: 'http://127.0.0.1:18080',
    wsUrls: ['ws://127.0.0.1:18090/ws/orders'],
    connections: 50_000,
    publishRate: 200,
    durationS: 60,
    reconnectWave: true,
    short: false,
  };

  test('50,000 sockets with a 20,000 descriptor limit: 10,000 users, 4 client processes, 3 edges', () => {
    const p = planRun(base, 20_000);
    expect(p).toMatchObject({ users: 10_000, perUser: 5, processes: 4, minEdges: 3, local: true, namespace: 'test', stage: 'test' });
    const shares = assign(p, 3);
    expect(shares.reduce((n, s) => n + s.sockets.length, 0)).toBe(50_000);
    for (const s of shares) expect(s.sockets.length).toBeLessThan(20_000 - 128);
    // A user's five sockets sit in one process, spread over the edges.
    const edgesOfUser0 = (shares[0]?.sockets ?? []).filter(([u]) => u === 0).map(([, e]) => e);
    expect(edgesOfUser0).toEqual([0, 1, 2, 0, 1]);
  });

  test('short runs are capped; the caps and bad input are refused with every problem named', () => {
    const p = planRun({ ...base, short: true, connections: 100_000, durationS: 600 }, 20_000);
    expect(p).toMatchObject({ connections: LIMITS.short.connections, durationS: LIMITS.short.durationS, minEdges: 2 });
    expect(() => planRun({ ...base, connections: LIMITS.maxConnections + 1 }, 20_000)).toThrow(/connections/);
    expect(() => planRun({ ...base, durationS: 0, socketsPerUser: 6 }, 20_000)).toThrow(/durationS.*socketsPerUser/);
    expect(() => planRun({ ...base, clientProcesses: 2 }, 20_000)).toThrow(/open-files limit/);
    expect(() =>
      planRun({ ...base, gatewayUrl: 'https://shop.example.com', wsUrls: ['wss://shop.example.com/ws/orders'] }, 20_000),
    ).toThrow(/namespace.*redisUrl/);
  });

  test('a connection count that is not a multiple of five leaves the last user fewer sockets', () => {
    const p = planRun({ ...base, connections: 12 }, 20_000);
    const shares = assign(p, 2);
    expect(p.users).toBe(3);
    expect(shares.reduce((n, s) => n + s.sockets.length, 0)).toBe(12);
  });
});
