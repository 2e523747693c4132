import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createShutdown } from './shutdown';

const silent = pino({ level: 'silent' });

describe('shutdown', () => {
  it('runs steps once, in order, even when asked twice', async () => {
    const calls: string[] = [];
    const s = createShutdown({ logger: silent, timeoutMs: 1000, exit: () => {} });
    s.add('stop accepting', () => void calls.push('stop'));
    s.add('drain', async () => {
      await new Promise((r) => setTimeout(r, 20));
      calls.push('drain');
    });
    s.add('disconnect', () => void calls.push('disconnect'));
    const [a, b] = await Promise.all([s.run('test'), s.run('again')]);
    assert.deepEqual(calls, ['stop', 'drain', 'disconnect']);
    assert.equal(a, 0);
    assert.equal(b, 0);
    assert.equal(s.stopping, true);
  });

  it('keeps going after a failing step and reports a non-zero code', async () => {
    const calls: string[] = [];
    const s = createShutdown({ logger: silent, timeoutMs: 1000 });
    s.add('boom', () => {
      throw new Error('boom');
    });
    s.add('after', () => void calls.push('after'));
    assert.equal(await s.run('test'), 1);
    assert.deepEqual(calls, ['after']);
  });

  it('gives up after the timeout when a step hangs', async () => {
    const s = createShutdown({ logger: silent, timeoutMs: 50 });
    s.add('hang', () => new Promise(() => {}));
    const started = Date.now();
    assert.equal(await s.run('test'), 1);
    assert.ok(Date.now() - started < 1000);
  });
});
