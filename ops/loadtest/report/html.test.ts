import { expect, test } from 'bun:test';
import { checkHtml, checkSummary } from './check';
import { escapeHtml, renderHtml } from './html';
import { SCHEMA_VERSION, type Summary } from './model';

const summary: Summary = {
  schemaVersion: SCHEMA_VERSION,
  scenario: 'steady',
  startedAt: '2026-01-01T00:00:00.000Z',
  endedAt: '2026-01-01T00:00:01.000Z',
  durationS: 1,
  short: true,
  interrupted: false,
  target: { gatewayUrl: 'http://127.0.0.1:8080', wsUrls: ['ws://127.0.0.1:8090/ws/orders'], local: 'dev' },
  settings: { rate: 1 },
  users: null,
  admin: null,
  engine: { http: 'x', closedLoop: null, latency: 'x', generatorLatenessMs: null },
  metrics: { source: 'none', detail: '' },
  totals: null,
  perSecond: [],
  targets: [{ id: 'x', description: '<script>alert(1)</script> & "quotes"', target: '< 1', measured: '0', met: false }],
  charts: [{ id: 'c', title: 'a </script> title', unit: 'ms', x: [0, 1], series: [{ label: '<b>', values: [1, null] }] }],
  tables: [{ id: 't', title: 'T', columns: ['a'], rows: [['<img src=x>']] }],
  scenarioData: {},
  notes: ['<i>note</i>'],
};

test('text from data is escaped, the data block cannot close its script, nothing loads from elsewhere', () => {
  const html = renderHtml(summary);
  expect(html).not.toContain('<script>alert(1)');
  expect(html).not.toContain('<img src=x>');
  expect(html).not.toContain('<i>note');
  expect(html).toContain(escapeHtml('<script>alert(1)</script> & "quotes"'));
  // One closing tag per script element: the data's "</script>" is written as \u003c/script>.
  expect(html.match(/<\/script>/g)).toHaveLength(3);
  expect(checkSummary(summary)).toEqual([]);
  expect(checkHtml(html, summary)).toEqual([]);
});

test('the Content-Security-Policy allows exactly the inline scripts, by hash', () => {
  const html = renderHtml(summary);
  const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)?.[1] ?? '';
  const hashes = [...csp.matchAll(/sha256-([A-Za-z0-9+/=]+)/g)].map((m) => m[1]);
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) =>
    new Bun.CryptoHasher('sha256').update(m[1] as string).digest('base64'),
  );
  expect(scripts).toHaveLength(2);
  expect(hashes.sort()).toEqual(scripts.sort());
});
