/**
 * Which address the rate limiter keys on: the peer, or X-Forwarded-For behind a trusted proxy (the
 * parsing of TRUSTED_PROXIES itself is checked with the rest of the configuration, in the gateway's test/auth.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clientIp, TrustedProxies } from './client-ip';

const req = (xff?: string) => new Request('http://x/', { headers: xff ? { 'x-forwarded-for': xff } : {} });

describe('client address behind proxies', () => {
  test('believes X-Forwarded-For only from trusted addresses and ranges, right-most untrusted hop first', () => {
    const trusted = new TrustedProxies(['10.0.0.0/8', '192.168.1.7', 'fd00::/8']);
    assert.equal(clientIp(req('203.0.113.9'), '10.42.3.4', trusted), '203.0.113.9');
    assert.equal(clientIp(req('203.0.113.9'), '::ffff:10.42.3.4', trusted), '203.0.113.9');
    assert.equal(clientIp(req('198.51.100.1, 203.0.113.9, 10.1.1.1'), '192.168.1.7', trusted), '203.0.113.9');
    assert.equal(clientIp(req('203.0.113.9'), 'fd00::5', trusted), '203.0.113.9');
    // Anyone else's header is ignored: a client cannot pick its own address.
    assert.equal(clientIp(req('203.0.113.9'), '192.168.1.8', trusted), '192.168.1.8');
    assert.equal(clientIp(req('203.0.113.9'), '11.0.0.1', trusted), '11.0.0.1');
    assert.equal(clientIp(req('203.0.113.9'), '10.0.0.1', new TrustedProxies([])), '10.0.0.1');
  });
});
