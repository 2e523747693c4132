/** Which address the rate limiter keys on: the peer, or X-Forwarded-For behind a trusted proxy. */
import { describe, expect, test } from 'bun:test';
import { clientIp, TrustedProxies } from '@orders/platform';
import { loadEnv } from '../src/env';

const req = (xff?: string) => new Request('http://x/', { headers: xff ? { 'x-forwarded-for': xff } : {} });

describe('client address behind proxies', () => {
  test('believes X-Forwarded-For only from trusted addresses and ranges, right-most untrusted hop first', () => {
    const trusted = new TrustedProxies(['10.0.0.0/8', '192.168.1.7', 'fd00::/8']);
    expect(clientIp(req('203.0.113.9'), '10.42.3.4', trusted)).toBe('203.0.113.9');
    expect(clientIp(req('203.0.113.9'), '::ffff:10.42.3.4', trusted)).toBe('203.0.113.9');
    expect(clientIp(req('198.51.100.1, 203.0.113.9, 10.1.1.1'), '192.168.1.7', trusted)).toBe('203.0.113.9');
    expect(clientIp(req('203.0.113.9'), 'fd00::5', trusted)).toBe('203.0.113.9');
    // Anyone else's header is ignored: a client cannot pick its own address.
    expect(clientIp(req('203.0.113.9'), '192.168.1.8', trusted)).toBe('192.168.1.8');
    expect(clientIp(req('203.0.113.9'), '11.0.0.1', trusted)).toBe('11.0.0.1');
    expect(clientIp(req('203.0.113.9'), '10.0.0.1', new TrustedProxies([]))).toBe('10.0.0.1');
  });

  test('refuses TRUSTED_PROXIES entries that are not addresses or ranges', () => {
    const base = { ...process.env, STAGE: 'test' };
    expect(() => loadEnv({ ...base, TRUSTED_PROXIES: '10.0.0.0/33' })).toThrow('TRUSTED_PROXIES');
    expect(() => loadEnv({ ...base, TRUSTED_PROXIES: 'nginx' })).toThrow('TRUSTED_PROXIES');
    expect(loadEnv({ ...base, TRUSTED_PROXIES: '10.0.0.0/8,::1' }).TRUSTED_PROXIES).toEqual(['10.0.0.0/8', '::1']);
  });
});
