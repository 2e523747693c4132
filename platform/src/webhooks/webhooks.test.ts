/** Webhook signing (checked by the reference implementation), sealed secrets, the schedule, the SSRF guard. */
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import {
  DestinationPolicy,
  generateSecret,
  isPublicAddress,
  nextDelayMs,
  RETRY_SCHEDULE_MS,
  retryAfterMs,
  SecretBox,
  sign,
  UnsafeDestinationError,
} from './index';

describe('Standard Webhooks signatures', () => {
  const body = JSON.stringify({ type: 'order.shipped', timestamp: '2026-11-25T20:00:00.000Z', data: { orderId: 'x' } });
  const headers = (signature: string, ts: number) => ({
    'webhook-id': 'msg_1',
    'webhook-timestamp': String(ts),
    'webhook-signature': signature,
  });

  it('verifies with the standardwebhooks package, and fails with another secret or another body', () => {
    const secret = generateSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{32}$/);
    const ts = Math.floor(Date.now() / 1000);
    const signature = sign([secret], 'msg_1', ts, body);
    assert.deepEqual(new Webhook(secret).verify(body, headers(signature, ts)), JSON.parse(body));
    assert.throws(() => new Webhook(generateSecret()).verify(body, headers(signature, ts)));
    assert.throws(() => new Webhook(secret).verify(`${body} `, headers(signature, ts)));
  });

  it('during a rotation both the new and the old secret verify', () => {
    const [fresh, old] = [generateSecret(), generateSecret()];
    const ts = Math.floor(Date.now() / 1000);
    const signature = sign([fresh, old], 'msg_1', ts, body);
    assert.equal(signature.split(' ').length, 2);
    for (const s of [fresh, old]) assert.ok(new Webhook(s).verify(body, headers(signature, ts)));
  });
});

describe('SecretBox', () => {
  const k7 = Buffer.alloc(32, 7).toString('base64');
  const k9 = Buffer.alloc(32, 9).toString('base64');
  const box = new SecretBox(k7);
  it('opens what it sealed; a tampered or foreign box refuses', () => {
    const sealed = box.seal('whsec_abc');
    assert.match(sealed, /^v2:0:/, 'a bare key is the ring with the single key "0"');
    assert.notEqual(sealed, box.seal('whsec_abc'), 'a fresh IV each time');
    assert.equal(box.open(sealed), 'whsec_abc');
    const raw = Buffer.from(sealed.slice('v2:0:'.length), 'base64');
    raw[raw.length - 1] = (raw[raw.length - 1] as number) ^ 1;
    assert.throws(() => box.open(`v2:0:${raw.toString('base64')}`));
    assert.throws(() => new SecretBox(Buffer.alloc(32, 8).toString('base64')).open(sealed));
    assert.throws(() => new SecretBox('c2hvcnQ='), /32 bytes/);
  });

  it('rotates: a new key first seals, the old one still opens, until it is dropped', () => {
    const before = new SecretBox(`2026-06:${k7}`);
    const old = before.seal('whsec_old');
    const rotated = new SecretBox(`2026-11:${k9}\n2026-06:${k7}\n`);
    assert.equal(rotated.activeKeyId, '2026-11');
    assert.equal(rotated.open(old), 'whsec_old');
    const fresh = rotated.seal('whsec_new');
    assert.equal(SecretBox.kidOf(fresh), '2026-11');
    assert.equal(SecretBox.kidOf(old), '2026-06');
    assert.throws(() => new SecretBox(`2026-11:${k9}`).open(old), /key 2026-06/);
    assert.throws(() => new SecretBox(`a b:${k9}`), /key id/);
    assert.throws(() => new SecretBox(`x:${k9}\nx:${k7}`), /twice/);
  });

  it('opens values sealed before key ids (v1) with whichever key of the ring fits', () => {
    // The v1 layout: iv (12) | tag (16) | body, base64, under the one key of that time.
    const iv = Buffer.alloc(12, 1);
    const cipher = createCipheriv('aes-256-gcm', Buffer.alloc(32, 7), iv);
    const body = Buffer.concat([cipher.update('whsec_legacy', 'utf8'), cipher.final()]);
    const legacy = `v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
    assert.equal(new SecretBox(`new:${k9}\nold:${k7}`).open(legacy), 'whsec_legacy');
    assert.equal(SecretBox.kidOf(legacy), undefined);
    assert.throws(() => new SecretBox(k9).open(legacy), /no key/);
  });
});

describe('retry schedule', () => {
  it('follows immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, with ±10 % jitter, then gives up', () => {
    assert.deepEqual(
      RETRY_SCHEDULE_MS.map((_, i) => nextDelayMs(i, 1, () => 0.5)),
      [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
    );
    assert.equal(nextDelayMs(8, 1), undefined);
    assert.equal(
      nextDelayMs(1, 1, () => 0),
      4_500,
    );
    assert.equal(
      nextDelayMs(1, 1, () => 1),
      5_500,
    );
    assert.equal(
      nextDelayMs(2, 0.001, () => 0.5),
      300,
    );
  });
  it('reads Retry-After as seconds or an HTTP date', () => {
    assert.equal(retryAfterMs('3'), 3_000);
    assert.equal((retryAfterMs(new Date(Date.now() + 10_000).toUTCString(), Date.now()) as number) > 8_000, true);
    assert.equal(retryAfterMs('soon'), undefined);
    assert.equal(retryAfterMs('99999999999999999999'), 86_400_000, 'capped at a day');
    assert.equal(retryAfterMs(null), undefined);
  });
});

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
