/** The body plugin's two passes over a request body: nesting depth before parsing, NUL characters after. */
import { describe, expect, test } from 'bun:test';
import { MAX_BODY_DEPTH, nestsDeeperThan, nulPath } from './body';

describe('the nesting depth', () => {
  test('skips strings and escapes, and allows the documents the API takes', () => {
    expect(nestsDeeperThan('{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', MAX_BODY_DEPTH)).toBe(false);
    expect(nestsDeeperThan('{"a":"\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', MAX_BODY_DEPTH)).toBe(false);
    expect(nestsDeeperThan(`${'['.repeat(MAX_BODY_DEPTH)}${']'.repeat(MAX_BODY_DEPTH)}`, MAX_BODY_DEPTH)).toBe(false);
    expect(nestsDeeperThan(`${'{"a":'.repeat(MAX_BODY_DEPTH + 1)}1${'}'.repeat(MAX_BODY_DEPTH + 1)}`, MAX_BODY_DEPTH)).toBe(true);
  });
});

describe('NUL characters', () => {
  test('are found in a key too, and named by its JSON pointer', () => {
    expect(nulPath({ items: [{ 'a\u0000': 1 }] })).toBe('/items/0/a\\u0000');
  });
});
