/**
 * The wire codec: Confluent framing (magic byte 0, 4-byte big-endian schema id, Avro binary body).
 *
 * Encoding uses the current schema of each event type; ids are resolved once in `prepare()`, so the hot
 * path never waits on the registry. Decoding resolves the writer schema by id (cached) and reads it
 * with the current reader schema, so a consumer on a newer schema reads events written with an older one.
 */
import type avro from 'avsc';
import { ContractError, ContractErrorCodes } from './errors';
import { type AnyEvent, EVENT_TYPES, type EventPayloads, type EventType, eventTypeOfRecord } from './events';
import type { SchemaRegistry } from './registry';
import { currentSchema, fromSchemaJson } from './schemas';

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

interface ReaderFor {
  type: EventType;
  reader: avro.Type;
  resolver: ReturnType<avro.Type['createResolver']> | undefined;
}

/**
 * `traceparent`: the W3C trace context the consumer read from the message's headers, when it had one; the
 * workers' runtime then replaces it with its own stage span's context, which the event's outputs carry on.
 */
export type DecodedEvent = AnyEvent & { schemaId: number; traceparent?: string };

export class EventCodec {
  private readonly writerIds = new Map<EventType, number>();
  private readonly readers = new Map<number, Promise<ReaderFor>>();

  constructor(private readonly registry: SchemaRegistry) {}

  /** Resolves (and, with a registry, registers) the id of every current schema. Call once at start-up. */
  async prepare(types: readonly EventType[] = EVENT_TYPES): Promise<void> {
    for (const type of types) {
      const schema = currentSchema(type);
      this.writerIds.set(type, await this.registry.idFor(schema.subject, schema.text));
    }
  }

  schemaIdOf(type: EventType): number | undefined {
    return this.writerIds.get(type);
  }

  encode<K extends EventType>(type: K, payload: EventPayloads[K]): Buffer {
    const id = this.writerIds.get(type);
    if (id === undefined) throw new ContractError(ContractErrorCodes.notPrepared, `no schema id for ${type}: call prepare() first`);
    const avroType = currentSchema(type).type;
    // The compiled check first; the slower walk that names every bad field only for a payload that fails.
    if (!avroType.isValid(payload)) {
      const problems: string[] = [];
      avroType.isValid(payload, {
        errorHook: (path: string[], value: unknown) => problems.push(`${path.join('.') || '(root)'} (${describe(value)})`),
      });
      throw new ContractError(ContractErrorCodes.invalidPayload, `${type} payload does not match its schema: ${problems.join(', ')}`);
    }
    const body = avroType.toBuffer(payload);
    const frame = Buffer.allocUnsafe(HEADER_BYTES + body.length);
    frame.writeUInt8(MAGIC_BYTE, 0);
    frame.writeUInt32BE(id, 1);
    body.copy(frame, HEADER_BYTES);
    return frame;
  }

  async decode(message: Uint8Array): Promise<DecodedEvent> {
    const buf = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    if (buf.length < HEADER_BYTES) {
      throw new ContractError(
        ContractErrorCodes.truncated,
        `message of ${buf.length} bytes is shorter than the ${HEADER_BYTES}-byte header`,
      );
    }
    if (buf[0] !== MAGIC_BYTE) {
      throw new ContractError(ContractErrorCodes.badMagic, `message starts with byte ${buf[0]}, expected magic byte ${MAGIC_BYTE}`);
    }
    const schemaId = buf.readUInt32BE(1);
    const { type, reader, resolver } = await this.readerFor(schemaId);
    let payload: unknown;
    try {
      payload = reader.fromBuffer(buf.subarray(HEADER_BYTES), resolver, false);
    } catch (err) {
      throw new ContractError(
        ContractErrorCodes.corruptPayload,
        `${type} body (schema ${schemaId}) cannot be decoded: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    return { type, payload, schemaId } as DecodedEvent;
  }

  private readerFor(schemaId: number): Promise<ReaderFor> {
    let reader = this.readers.get(schemaId);
    if (!reader) {
      reader = this.buildReader(schemaId);
      reader.catch(() => this.readers.delete(schemaId));
      this.readers.set(schemaId, reader);
    }
    return reader;
  }

  private async buildReader(schemaId: number): Promise<ReaderFor> {
    const writer = fromSchemaJson(JSON.parse(await this.registry.schemaText(schemaId)));
    const type = eventTypeOfRecord(writer.subject);
    if (type === undefined) {
      throw new ContractError(ContractErrorCodes.unknownEvent, `schema ${schemaId} is ${writer.subject}, which is not an order event`);
    }
    const reader = currentSchema(type);
    if (reader.text === writer.text) return { type, reader: reader.type, resolver: undefined };
    try {
      return { type, reader: reader.type, resolver: reader.type.createResolver(writer.type) };
    } catch (err) {
      throw new ContractError(
        ContractErrorCodes.incompatibleSchema,
        `schema ${schemaId} of ${type} cannot be read with the current schema: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
}

/** The kind of a bad value, never the value itself: payloads may hold tokens that must not reach logs. */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}
