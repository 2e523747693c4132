/** Sealed endpoint secrets: sealing, opening, key-ring rotation, the id-less v1 format. */
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { describe, it } from 'node:test';
import { SecretBox } from './secrets';

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
