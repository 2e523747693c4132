/** The `/ws/orders` frames on their own: what a client may send, what is refused and why, what the edge sends. */
import { describe, expect, test } from 'bun:test';
import { sampleStatusUpdate } from '@orders/contracts/testing/samples';
import { EdgeErrorCodes } from './error-codes';
import { CloseCodes, encodeServerFrame, parseClientMessage, type ServerFrame } from './protocol';

describe('parseClientMessage', () => {
  test('auth carries the token', () => {
    expect(parseClientMessage('{"type":"auth","token":"a.b.c"}')).toEqual({ type: 'auth', token: 'a.b.c' });
  });

  test('resume carries the last sequence seen, 0 included', () => {
    expect(parseClientMessage('{"type":"resume","after":42}')).toEqual({ type: 'resume', after: 42 });
    expect(parseClientMessage('{"type":"resume","after":0}')).toEqual({ type: 'resume', after: 0 });
  });

  test('fields beyond the frame kind’s are dropped, not passed on', () => {
    expect(parseClientMessage('{"type":"auth","token":"t","userId":"someone-else"}')).toEqual({ type: 'auth', token: 't' });
  });

  test('refuses what is not JSON, or not a JSON object', () => {
    expect(parseClientMessage('not json')).toEqual({ error: 'frames must be JSON' });
    expect(parseClientMessage('')).toEqual({ error: 'frames must be JSON' });
    for (const text of ['null', '42', '"auth"', 'true']) expect(parseClientMessage(text)).toEqual({ error: 'frames must be JSON objects' });
  });

  test('refuses an auth frame without a usable token', () => {
    for (const frame of [
      { type: 'auth' },
      { type: 'auth', token: 42 },
      { type: 'auth', token: null },
      { type: 'auth', token: 'x'.repeat(4097) },
    ])
      expect(parseClientMessage(JSON.stringify(frame))).toEqual({ error: 'auth needs a token' });
    expect(parseClientMessage(JSON.stringify({ type: 'auth', token: 'x'.repeat(4096) }))).toEqual({
      type: 'auth',
      token: 'x'.repeat(4096),
    });
  });

  test('refuses a resume frame without a whole, non-negative, safe sequence', () => {
    for (const after of [undefined, '3', -1, 1.5, Number.MAX_SAFE_INTEGER + 1, null]) {
      const msg = parseClientMessage(JSON.stringify({ type: 'resume', after }));
      expect(msg).toEqual({ error: 'resume needs "after": the last sequence seen (an integer ≥ 0)' });
    }
  });

  test('refuses unknown frame kinds, naming them (shortened)', () => {
    expect(parseClientMessage('{"type":"subscribe-to-everything"}')).toEqual({ error: 'unknown frame type "subscribe-to-everything"' });
    expect(parseClientMessage('{}')).toEqual({ error: 'unknown frame type "undefined"' });
    expect(parseClientMessage('[]')).toEqual({ error: 'unknown frame type "undefined"' });
    const long = parseClientMessage(JSON.stringify({ type: 'y'.repeat(100) }));
    expect('error' in long && long.error).toBe(`unknown frame type ${`"${'y'.repeat(100)}"`.slice(0, 40)}`);
  });
});

describe('encodeServerFrame', () => {
  const roundTrip = (frame: ServerFrame) => JSON.parse(encodeServerFrame(frame));

  test('each frame kind is its JSON, fields as given', () => {
    const frames: ServerFrame[] = [
      { type: 'ready', userId: 'u-1', expiresAt: 1_700_000_900, expiresIn: 900, seq: 7 },
      { type: 'ready', userId: 'u-1', expiresAt: 1_700_000_900, expiresIn: 900, seq: null },
      { type: 'resumed', after: 4, seq: 6, count: 2 },
      { type: 'resume-needed' },
      { type: 'resync', reason: 'gap' },
      { type: 'resync', reason: 'unavailable' },
      { type: 'error', code: EdgeErrorCodes.badFrame, message: 'frames must be JSON' },
    ];
    for (const frame of frames) expect(roundTrip(frame)).toEqual(frame);
  });

  test('a status update goes out as the feed wrote it', () => {
    const update = sampleStatusUpdate('u-1', 3);
    expect(encodeServerFrame(update)).toBe(JSON.stringify(update));
  });

  test('error frames carry the edge’s prefixed codes, generic ones the platform’s', () => {
    expect([EdgeErrorCodes.badFrame, EdgeErrorCodes.notAuthenticated, EdgeErrorCodes.rateLimited]).toEqual([
      'EDGE_BAD_FRAME',
      'EDGE_NOT_AUTHENTICATED',
      'RATE_LIMIT_EXCEEDED',
    ]);
  });
});

test('close codes are the documented ones', () => {
  expect(CloseCodes).toEqual({
    badMessages: 4400,
    unauthenticated: 4401,
    forbidden: 4403,
    slowConsumer: 4408,
    rateLimited: 4429,
    tooLarge: 1009,
    restarting: 1012,
  });
});
