import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventCodec } from './codec';
import { ContractError } from './errors';
import { EVENT_TYPES, Events, eventTypeOfRecord } from './events';
import { PinnedSchemaRegistry, readPinnedTable } from './registry';
import { allCurrentSchemas, fingerprint, loadSchemaFile } from './schemas';
import { samplePayloads } from './testing/samples';

async function preparedCodec() {
  const codec = new EventCodec(new PinnedSchemaRegistry());
  await codec.prepare();
  return codec;
}

/** avsc decodes records as instances of generated classes; compare their data only. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

/** The fields an old writer did not know decode to their defaults (null for the optional ones added). */
function nullsFor(sample: object, known: Set<string>): Record<string, null> {
  return Object.fromEntries(
    Object.keys(sample)
      .filter((k) => !known.has(k))
      .map((k) => [k, null]),
  );
}

function frame(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

describe('wire codec', () => {
  it('round-trips every event type through Confluent framing', async () => {
    const codec = await preparedCodec();
    for (const type of EVENT_TYPES) {
      const bytes = codec.encode(type, samplePayloads[type]);
      assert.equal(bytes[0], 0, 'magic byte');
      assert.equal(bytes.readUInt32BE(1), codec.schemaIdOf(type));
      const decoded = await codec.decode(bytes);
      assert.equal(decoded.type, type);
      assert.deepEqual(plain(decoded.payload), samplePayloads[type]);
    }
  });

  it('reads an OrderPlaced written with schema v1 using the current schema (new field takes its default)', async () => {
    const codec = await preparedCodec();
    const v1 = loadSchemaFile('history/OrderPlaced.v1.avsc');
    const v1Entry = readPinnedTable().find((e) => e.file === 'history/OrderPlaced.v1.avsc');
    assert.ok(v1Entry, 'v1 has a pinned id');
    const { paymentMethodToken: _dropped, ...v1Payload } = samplePayloads['order.placed'];
    const decoded = await codec.decode(frame(v1Entry.id, v1.type.toBuffer(v1Payload)));
    assert.equal(decoded.type, Events.OrderPlaced);
    assert.deepEqual(plain(decoded.payload), { ...v1Payload, paymentMethodToken: null });
    assert.notEqual(v1Entry.id, codec.schemaIdOf(Events.OrderPlaced), 'v1 and current have distinct ids');
  });

  it('reads every older schema version in avro/history with the current schema', async () => {
    const codec = await preparedCodec();
    const history = readPinnedTable().filter((e) => e.file.startsWith('history/'));
    assert.ok(history.length >= 3, 'history holds the superseded versions');
    for (const entry of history) {
      const writer = loadSchemaFile(entry.file);
      const type = eventTypeOfRecord(writer.subject);
      assert.ok(type, `${entry.file} is an order event`);
      // The sample as an old writer would have sent it: only the fields its schema knows.
      const known = new Set((writer.type as unknown as { fields: { name: string }[] }).fields.map((f) => f.name));
      const old = Object.fromEntries(Object.entries(samplePayloads[type]).filter(([k]) => known.has(k)));
      const decoded = await codec.decode(frame(entry.id, writer.type.toBuffer(old)));
      assert.equal(decoded.type, type);
      assert.deepEqual(plain(decoded.payload), plain({ ...samplePayloads[type], ...nullsFor(samplePayloads[type], known), ...old }));
    }
  });

  it('refuses a message whose first byte is not the magic byte', async () => {
    const codec = await preparedCodec();
    const good = codec.encode('order.validated', samplePayloads['order.validated']);
    const bad = Buffer.from(good);
    bad[0] = 1;
    await assert.rejects(codec.decode(bad), { code: 'CONTRACTS_BAD_MAGIC_BYTE' });
    await assert.rejects(codec.decode(Buffer.from('{"json":"instead of avro"}')), { code: 'CONTRACTS_BAD_MAGIC_BYTE' });
  });

  it('refuses a message shorter than the header', async () => {
    const codec = await preparedCodec();
    await assert.rejects(codec.decode(Buffer.from([0, 0, 0])), { code: 'CONTRACTS_TRUNCATED' });
  });

  it('refuses an unknown schema id with a clear error', async () => {
    const codec = await preparedCodec();
    const body = loadSchemaFile('OrderValidated.avsc').type.toBuffer(samplePayloads['order.validated']);
    await assert.rejects(codec.decode(frame(987_654, body)), (err: unknown) => {
      assert.ok(err instanceof ContractError);
      assert.equal(err.code, 'CONTRACTS_UNKNOWN_SCHEMA_ID');
      assert.match(err.message, /987654/);
      return true;
    });
  });

  it('refuses a corrupted body: truncated, and with trailing garbage', async () => {
    const codec = await preparedCodec();
    const good = codec.encode('order.placed', samplePayloads['order.placed']);
    await assert.rejects(codec.decode(good.subarray(0, good.length - 7)), { code: 'CONTRACTS_CORRUPT_PAYLOAD' });
    await assert.rejects(codec.decode(Buffer.concat([good, Buffer.from([1, 2, 3])])), { code: 'CONTRACTS_CORRUPT_PAYLOAD' });
  });

  it('refuses to encode a payload that does not match the schema, naming the field but not its value', async () => {
    const codec = await preparedCodec();
    const bad = { ...samplePayloads['order.placed'], totalCents: 'lots', paymentMethodToken: 42 } as never;
    assert.throws(
      () => codec.encode('order.placed', bad),
      (err: unknown) =>
        err instanceof ContractError &&
        err.code === 'CONTRACTS_INVALID_PAYLOAD' &&
        err.message.includes('totalCents (string)') &&
        !err.message.includes('lots'),
    );
  });

  it('refuses to encode before prepare()', () => {
    const codec = new EventCodec(new PinnedSchemaRegistry());
    assert.throws(() => codec.encode('order.validated', samplePayloads['order.validated']), { code: 'CONTRACTS_CODEC_NOT_PREPARED' });
  });
});

describe('pinned schema-id table', () => {
  it('has an id for every current schema, and its fingerprints match the files (a changed schema needs a new id)', () => {
    const table = readPinnedTable();
    for (const [type, schema] of allCurrentSchemas()) {
      const entry = table.find((e) => e.subject === schema.subject && e.fingerprint === fingerprint(schema.type));
      assert.ok(entry, `${type}: current schema has no pinned id (run npm run schemas:pin -w contracts)`);
    }
    for (const e of table) assert.equal(fingerprint(loadSchemaFile(e.file).type), e.fingerprint, `${e.file} changed after it was pinned`);
  });

  it('never gives two schemas the same id', () => {
    const ids = readPinnedTable().map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length);
  });
});
