/** The stuck thresholds as configured (default and per-stage overrides), and the event behind a history row. */
import { describe, expect, test } from 'bun:test';
import { eventTypeOf, parseStuckThresholds, STAGES } from './stages';

describe('PIPELINE_STUCK_THRESHOLDS', () => {
  test('overrides the default for the stages it names', () => {
    const problems: string[] = [];
    expect(parseStuckThresholds(60_000, ' payment=120000 , fulfillment = 300000', problems)).toEqual({
      validator: 60_000,
      payment: 120_000,
      inventory: 60_000,
      fulfillment: 300_000,
    });
    expect(parseStuckThresholds(5_000, '', problems)).toEqual({ validator: 5_000, payment: 5_000, inventory: 5_000, fulfillment: 5_000 });
    expect(problems).toEqual([]);
  });

  test('refuses an unknown stage, a bad or zero number, a stage named twice, naming each', () => {
    const cases: [string, string][] = [
      ['shipping=1000', 'unknown stage "shipping"'],
      ['projector=1000', 'unknown stage "projector"'],
      ['payment=abc', '"payment=abc" is not stage=milliseconds'],
      ['payment=1.5', 'is not stage=milliseconds'],
      ['payment=-5', 'is not stage=milliseconds'],
      ['payment', 'is not stage=milliseconds'],
      ['payment=0', 'payment must be at least 1 ms'],
      ['payment=1000,payment=2000', 'payment is named twice'],
    ];
    for (const [raw, message] of cases) {
      const problems: string[] = [];
      parseStuckThresholds(60_000, raw, problems);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain(message);
    }
    const problems: string[] = [];
    parseStuckThresholds(60_000, 'nope=1,payment=x', problems);
    expect(problems).toHaveLength(2);
  });
});

describe('the pipeline', () => {
  test('each stage consumes what the one before produced', () => {
    expect(STAGES.map((s) => [s.waitingStatus, s.stage, s.input, s.producer])).toEqual([
      ['pending', 'validator', 'order.placed', null],
      ['validated', 'payment', 'order.validated', 'validator'],
      ['paid', 'inventory', 'payment.authorized', 'payment'],
      ['reserved', 'fulfillment', 'stock.reserved', 'inventory'],
    ]);
  });

  test('the event behind a status change follows the state machine', () => {
    expect(eventTypeOf(null, 'pending')).toBe('order.placed');
    expect(eventTypeOf('pending', 'validated')).toBe('order.validated');
    expect(eventTypeOf('validated', 'failed')).toBe('payment.failed');
    expect(eventTypeOf('paid', 'failed')).toBe('stock.unavailable');
    expect(eventTypeOf('reserved', 'cancelled')).toBe('order.cancelled');
    expect(eventTypeOf('pending', 'failed')).toBeNull();
  });
});
