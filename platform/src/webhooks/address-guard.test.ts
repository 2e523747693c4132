/** The SSRF guard: which addresses are public, which URLs are refused, the allowlist. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DestinationPolicy, isPublicAddress, UnsafeDestinationError } from './address-guard';

describe('SSRF guard', () => {
  it('calls only public unicast addresses public', () => {
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '93.184.216.34']) assert.equal(isPublicAddress(a), true, a);
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      '::ffff:7f00:1',
      '64:ff9b::7f00:1',
      '::7f00:1',
      '::ffff:0:7f00:1',
      '2002:7f00:1::1',
      'fec0::1',
      'not-an-ip',
    ])
      assert.equal(isPublicAddress(a), false, a);
  });

  it('refuses bad URLs, http outside dev, credentials, and names resolving inward unless allowlisted', async () => {
    const prod = new DestinationPolicy([], true);
    assert.throws(() => prod.checkUrl('ftp://example.com/'), UnsafeDestinationError);
    assert.throws(() => prod.checkUrl('http://example.com/'), /https/);
    assert.throws(() => prod.checkUrl('https://user:pw@example.com/'), /credentials/);
    assert.throws(() => prod.checkUrl('not a url'), UnsafeDestinationError);
    await assert.rejects(prod.resolve('localhost'), /not a public address/);
    await assert.rejects(prod.resolve('127.0.0.1'), /not a public address/);
    await assert.rejects(prod.resolve('[::1]'), /not a public address/);
    const dev = new DestinationPolicy(['127.0.0.1'], false);
    assert.equal((await dev.resolve('127.0.0.1'))[0]?.address, '127.0.0.1');
    await assert.rejects(dev.resolve('localhost'), /not a public address/, 'allowlisted by name, not by address');
    const viaLookup = await new Promise<Error | null>((resolve) => dev.lookup('localhost', {}, (err) => resolve(err)));
    assert.ok(viaLookup instanceof UnsafeDestinationError);
  });

  it('refuses control characters and surrounding spaces instead of letting the parser clean them', () => {
    const prod = new DestinationPolicy([], true);
    for (const raw of [
      'https://example.com/a\u0000b',
      'https://example.com/a\r\nSet-Cookie: x=1',
      'https://exam\tple.com/',
      '\u0001https://example.com/',
      ' https://example.com/',
      'https://example.com/\u007f',
    ]) {
      assert.throws(() => prod.checkUrl(raw), /control characters/, JSON.stringify(raw));
    }
    assert.equal(prod.checkUrl('https://example.com/a%00b').href, 'https://example.com/a%00b');
  });

  it('compares the allowlist with the normalised address: every spelling of it, on any port', () => {
    const dev = new DestinationPolicy(['127.0.0.1'], true);
    for (const raw of ['http://127.1:9/', 'http://0x7f000001/', 'http://2130706433:8080/', 'http://0177.0.0.1/']) {
      const url = dev.checkUrl(raw);
      assert.equal(url.hostname, '127.0.0.1', raw);
      assert.ok(dev.isAllowed(url.hostname), raw);
    }
    assert.throws(() => dev.checkUrl('http://127.0.0.2/'), /https/);
  });
});
