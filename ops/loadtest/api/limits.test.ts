import { expect, test } from 'bun:test';
import { parsePolicies, tightest, usersNeeded } from './limits';

const header = '"tier:premium";q=500;w=60, "POST /api/v1/orders";q=20;w=60';

test('RateLimit-Policy is read into limits', () => {
  expect(parsePolicies(header)).toEqual([
    { name: 'tier:premium', limit: 500, windowS: 60 },
    { name: 'POST /api/v1/orders', limit: 20, windowS: 60 },
  ]);
  expect(parsePolicies(null)).toEqual([]);
  expect(tightest(parsePolicies(header))?.name).toBe('POST /api/v1/orders');
});

test('a pool keeps every limit at half its budget', () => {
  const tier = { name: 'tier:premium', limit: 500, windowS: 60 };
  const post = { name: 'POST /api/v1/orders', limit: 20, windowS: 60 };
  // 95 reads/s share the tier limit with 5 orders/s: 6,000 a minute over 250 each → 24 users;
  // 5 orders/s = 300 a minute over 10 each → 30 users: the endpoint's limit decides.
  expect(usersNeeded({ read: 95, place: 5 }, { read: [tier], place: [tier, post] })).toBe(30);
  expect(usersNeeded({ read: 1 }, { read: [] })).toBe(1);
});
