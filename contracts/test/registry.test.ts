/**
 * The codec against a real Confluent-compatible schema registry (Apicurio in the local stack).
 * Needs SCHEMA_REGISTRY_URL; `npm test` sets it when the stack has a registry.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { EventCodec } from '../src/codec';
import { ContractError } from '../src/errors';
import { EVENT_TYPES, Events } from '../src/events';
import { HttpSchemaRegistry } from '../src/registry';
import { currentSchema, loadSchemaFile } from '../src/schemas';
import { samplePayloads } from '../src/testing/samples';

const url = process.env.SCHEMA_REGISTRY_URL ?? '';
const skip = url === '' ? 'SCHEMA_REGISTRY_URL is not set (no registry in this stack)' : false;

/** A fresh subject namespace per run, so compatibility checks start from nothing. */
function registry() {
  return new HttpSchemaRegistry({ url, subjectPrefix: `t${randomUUID().slice(0, 8)}.` });
}

function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

describe('codec with a real schema registry', { skip }, () => {
  it('registers every current schema and round-trips each event with registry ids', async () => {
    const reg = registry();
    const codec = new EventCodec(reg);
    await codec.prepare();
    const ids = new Set(EVENT_TYPES.map((t) => codec.schemaIdOf(t)));
    assert.equal(ids.size, EVENT_TYPES.length, 'one id per event schema');
    // A second consumer with its own cache reads by id from the registry.
    const reader = new EventCodec(new HttpSchemaRegistry({ url }));
    for (const type of EVENT_TYPES) {
      const decoded = await reader.decode(codec.encode(type, samplePayloads[type]));
      assert.equal(decoded.type, type);
      assert.deepEqual(plain(decoded.payload), samplePayloads[type]);
    }
  });

  it('reads data written with v1 after v2 was registered (backward compatible evolution)', async () => {
    const reg = registry();
    const v1 = loadSchemaFile('history/OrderPlaced.v1.avsc');
    const v1Id = await reg.idFor(v1.subject, v1.text);
    const codec = new EventCodec(reg);
    await codec.prepare([Events.OrderPlaced]);
    assert.notEqual(codec.schemaIdOf(Events.OrderPlaced), v1Id);
    const { paymentMethodToken: _t, ...v1Payload } = samplePayloads['order.placed'];
    const header = Buffer.alloc(5);
    header.writeUInt32BE(v1Id, 1);
    const decoded = await new EventCodec(new HttpSchemaRegistry({ url })).decode(Buffer.concat([header, v1.type.toBuffer(v1Payload)]));
    assert.deepEqual(plain(decoded.payload), { ...v1Payload, paymentMethodToken: null });
  });

  it('refuses to register an incompatible change (a new required field)', async () => {
    const reg = registry();
    const current = currentSchema(Events.OrderPlaced);
    await reg.idFor(current.subject, current.text);
    const broken = JSON.parse(current.text) as { fields: unknown[] };
    broken.fields.push({ name: 'mandatory', type: 'string' });
    await assert.rejects(reg.idFor(current.subject, JSON.stringify(broken)), (err: unknown) => {
      assert.ok(err instanceof ContractError);
      assert.equal(err.code, 'CONTRACTS_INCOMPATIBLE_SCHEMA');
      return true;
    });
  });

  it('answers an unknown id with CONTRACTS_UNKNOWN_SCHEMA_ID', async () => {
    const codec = new EventCodec(new HttpSchemaRegistry({ url }));
    const header = Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]);
    await assert.rejects(codec.decode(Buffer.concat([header, Buffer.from([2, 0x61])])), { code: 'CONTRACTS_UNKNOWN_SCHEMA_ID' });
  });

  it('says the registry is unavailable (retryable) when nothing answers', async () => {
    const dead = new HttpSchemaRegistry({ url: 'http://127.0.0.1:9/apis/ccompat/v7', timeoutMs: 500 });
    await assert.rejects(
      dead.schemaText(1),
      (err: unknown) => err instanceof ContractError && err.code === 'CONTRACTS_REGISTRY_UNAVAILABLE' && err.retryable,
    );
  });
});
