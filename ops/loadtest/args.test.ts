import { describe, expect, test } from 'bun:test';
import { parseArgs, parseDuration, UsageError } from './args';

const defaults = { target: 'http://127.0.0.1:8080', outDir: '/tmp/reports' };
const problems = (argv: string[]) => {
  try {
    parseArgs(argv, defaults);
    return [];
  } catch (err) {
    if (err instanceof UsageError) return err.problems;
    throw err;
  }
};

describe('the command line', () => {
  test('defaults: the local gateway, 30 s, the scenario’s own rate', () => {
    const a = parseArgs(['steady'], defaults);
    expect(a).toMatchObject({
      scenario: 'steady',
      target: 'http://127.0.0.1:8080',
      targetGiven: false,
      durationS: 30,
      rate: null,
      short: false,
    });
  });

  test('--short is a few seconds unless a duration is given; options take = too', () => {
    expect(parseArgs(['abuse', '--short'], defaults).durationS).toBe(4);
    expect(parseArgs(['abuse', '--short', '--duration=7s'], defaults).durationS).toBe(7);
    expect(parseArgs(['flash-sale', '--rate', '12.5', '--target', 'https://shop.example/'], defaults)).toMatchObject({
      rate: 12.5,
      target: 'https://shop.example',
      targetGiven: true,
    });
  });

  test('every problem is named at once', () => {
    expect(problems(['steady', '--rate', '0', '--duration', '11m', '--target', 'ftp://x', '--bogus'])).toEqual([
      'unknown option "--bogus"',
      '--target: ftp: is not one of http:, https:',
      '--duration must be between 1s and 10m',
      '--rate must be a number above 0 and at most 5000',
    ]);
    expect(problems([])).toEqual(['a scenario is required']);
    expect(problems(['stampede'])).toEqual(['unknown scenario "stampede"']);
    expect(problems(['steady', '--connections', '10'])).toEqual(['--connections is for ws-storm only']);
    expect(problems(['steady', '--target', 'http://user:pw@host'])).toEqual(['--target: credentials do not belong in the URL']);
  });

  test('durations', () => {
    expect(parseDuration('30s')).toBe(30);
    expect(parseDuration('2m')).toBe(120);
    expect(parseDuration('1m30s')).toBe(90);
    expect(parseDuration('45')).toBe(45);
    expect(parseDuration('soon')).toBeNull();
    expect(parseDuration('')).toBeNull();
  });
});
