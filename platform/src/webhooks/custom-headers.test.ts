/** Custom webhook headers: the name and value rules, the reserved names, sealing, and what goes on the wire. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  customHeadersSize,
  deliverableHeaders,
  isReservedHeaderName,
  isValidHeaderName,
  isValidHeaderValue,
  openCustomHeaders,
  sealCustomHeaders,
} from './custom-headers';
import { SecretBox } from './secrets';

describe('custom webhook headers', () => {
  it('accepts RFC 9110 tokens up to 64 characters and field content up to 1024', () => {
    for (const name of ['x-api-key', 'X_Custom.1', "a!#$%&'*+-.^_`|~z", 'n'.repeat(64)]) assert.ok(isValidHeaderName(name), name);
    for (const name of ['', 'x y', 'x:y', 'x\u00e9', 'n'.repeat(65), 'a\r\nb']) assert.ok(!isValidHeaderName(name), name);
    for (const value of ['v', 'Bearer a b\tc', '~!', 'v'.repeat(1024)]) assert.ok(isValidHeaderValue(value), value);
    for (const value of ['', ' v', 'v\t', 'a\nb', 'a\rb', 'a\u0000b', 'caf\u00e9', 'v'.repeat(1025)])
      assert.ok(!isValidHeaderValue(value), JSON.stringify(value));
  });

  it('reserves the dispatcher’s names in any case, prefixes included', () => {
    for (const name of ['Webhook-Signature', 'content-type', 'HOST', 'te', 'Proxy-Authorization', 'sec-ch-ua', 'traceparent', 'User-Agent'])
      assert.ok(isReservedHeaderName(name), name);
    for (const name of ['x-webhook-id', 'authorization', 'proxyish', 'x-sec']) assert.ok(!isReservedHeaderName(name), name);
  });

  it('seals and opens the set; none seals to null', () => {
    const box = new SecretBox(randomBytes(32).toString('base64'));
    const sealed = sealCustomHeaders(box, { 'x-a': 'secret-value' });
    assert.ok(sealed?.startsWith('v2:0:'));
    assert.ok(!sealed?.includes('secret-value'));
    assert.deepEqual(openCustomHeaders(box, sealed), { 'x-a': 'secret-value' });
    assert.equal(sealCustomHeaders(box, {}), null);
    assert.deepEqual(openCustomHeaders(box, null), {});
    assert.throws(() => openCustomHeaders(box, box.seal('["x"]')));
  });

  it('puts only valid, unreserved headers on the wire, lower-cased; counts names and values', () => {
    assert.deepEqual(deliverableHeaders({ 'X-A': '1', 'webhook-id': 'x', 'x-b': 'a\r\nb', 'bad name': 'v' }), { 'x-a': '1' });
    assert.equal(customHeadersSize({ 'x-a': '12', 'x-b': '3' }), 3 + 2 + 3 + 1);
  });

  it('keeps names that are also Object.prototype members as ordinary headers', () => {
    const box = new SecretBox(randomBytes(32).toString('base64'));
    // JSON.parse gives `__proto__` as an own property, as a request body would.
    const headers: Record<string, string> = JSON.parse('{"__proto__":"p","constructor":"c","toString":"t"}');
    const opened = openCustomHeaders(box, sealCustomHeaders(box, headers));
    assert.deepEqual(Object.entries(opened), [
      ['__proto__', 'p'],
      ['constructor', 'c'],
      ['toString', 't'],
    ]);
    assert.equal(Object.getPrototypeOf(opened), Object.prototype);
    assert.deepEqual(Object.entries(deliverableHeaders(opened)), [
      ['__proto__', 'p'],
      ['constructor', 'c'],
      ['tostring', 't'],
    ]);
  });
});
