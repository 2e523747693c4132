import { expect, test } from 'bun:test';
import { checkSummary } from '../report/check';
import { SCHEMA_VERSION, type Summary } from '../report/model';
import { Recorder } from './recorder';

function summaryOf(r: Recorder): Summary {
  return {
    schemaVersion: SCHEMA_VERSION,
    scenario: 'unit',
    startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: '2026-01-01T00:00:02.000Z',
    durationS: 2,
    short: true,
    interrupted: false,
    target: { gatewayUrl: 'http://127.0.0.1:1', wsUrls: [], local: null },
    settings: {},
    users: null,
    admin: null,
    engine: { http: 'x', closedLoop: null, latency: 'x', generatorLatenessMs: null },
    metrics: { source: 'none', detail: '' },
    totals: r.totals(),
    perSecond: r.perSecond(2).map((s) => ({ ...s, lag: null, limitedPerS: null })),
    targets: [{ id: 't', description: 'd', target: 'a', measured: 'm', met: true }],
    charts: [],
    tables: [],
    scenarioData: {},
    notes: [],
  };
}

test('every request is counted once, in the second it was offered', () => {
  const r = new Recorder(['a', 'b']);
  r.offer('a', 0);
  r.send('a', 0);
  r.answer('a', 0, 200, 5);
  r.offer('a', 0);
  r.drop('a', 0);
  r.offer('b', 1);
  r.send('b', 1);
  r.fail('b', 1, 'timeout');
  r.offer('b', 1);
  r.send('b', 1);
  r.answer('b', 1, 429, 1.5);
  const [s0, s1] = r.perSecond();
  expect(s0).toMatchObject({ offered: 2, sent: 1, dropped: 1, achieved: 1, status: { '200': 1 } });
  expect(s1).toMatchObject({ offered: 2, sent: 2, achieved: 1, timeouts: 1, status: { '429': 1 } });
  expect(r.totals()).toMatchObject({ offered: 4, sent: 3, dropped: 1, achieved: 2, timeouts: 1 });
  expect(r.totals().latencyMs?.max).toBe(5);
  expect(checkSummary(summaryOf(r))).toEqual([]);
});

test('the check finds numbers that do not add up', () => {
  const r = new Recorder(['a']);
  for (let i = 0; i < 10; i++) {
    r.offer('a', 0);
    r.send('a', 0);
    r.answer('a', 0, 200, i + 1);
  }
  const s = summaryOf(r);
  const first = s.perSecond[0];
  if (!first) throw new Error('no second');
  first.achieved = 11;
  first.status['200'] = 12;
  first.latencyMs = { p50: 5, p95: 4, p99: 9, max: 10 };
  expect(checkSummary(s)).toEqual([
    'second 0: achieved 11 + errors 0 + timeouts 0 ≠ sent 10',
    'second 0: status codes add up to 12, achieved is 11',
    'second 0: achieved 11 > offered 10',
    'second 0: percentiles out of order {"p50":5,"p95":4,"p99":9,"max":10}',
    'second 0 classes vs all: achieved 10 ≠ 11',
    'second 0 classes vs all: status 200 10 ≠ 12',
    'totals vs seconds: achieved 10 ≠ 11',
    'totals vs seconds: status 200 10 ≠ 12',
  ]);
});
