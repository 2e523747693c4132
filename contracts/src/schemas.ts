/**
 * The Avro schemas in `contracts/avro/*.avsc`, loaded once. The current schema of each record is the
 * reader schema every consumer decodes with; older versions live in `avro/history/` for the evolution
 * tests and the pinned id table.
 */
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { AVRO_NAMESPACE, Events, type EventType, type RecordName, recordNameOf } from './events';

const AVRO_DIR = new URL('../avro/', import.meta.url);

export interface LoadedSchema {
  /** Full Avro name, also the registry subject (RecordNameStrategy). */
  subject: string;
  /** The schema text as registered: canonical JSON, so the same schema always hashes the same. */
  text: string;
  type: avro.Type;
}

export function loadSchemaFile(relativePath: string): LoadedSchema {
  const json: unknown = JSON.parse(readFileSync(new URL(relativePath, AVRO_DIR), 'utf8'));
  return fromSchemaJson(json);
}

export function fromSchemaJson(json: unknown): LoadedSchema {
  const type = avro.Type.forSchema(json as avro.Schema);
  const subject = type.name;
  if (subject === undefined) throw new Error('event schemas must be named records');
  return { subject, text: JSON.stringify(json), type };
}

/** Canonical-form fingerprint (Avro's Parsing Canonical Form), hex. Equal for equal schemas. */
export function fingerprint(type: avro.Type): string {
  return type.fingerprint('sha256').toString('hex');
}

const current = new Map<RecordName, LoadedSchema>();

/** The current (reader) schema of an event's record. */
export function currentSchema(type: EventType): LoadedSchema {
  const record = recordNameOf(type);
  let schema = current.get(record);
  if (!schema) {
    schema = loadSchemaFile(`${record}.avsc`);
    if (schema.subject !== `${AVRO_NAMESPACE}.${record}`) {
      throw new Error(`avro/${record}.avsc declares ${schema.subject}, expected ${AVRO_NAMESPACE}.${record}`);
    }
    current.set(record, schema);
  }
  return schema;
}

export function allCurrentSchemas(): Map<EventType, LoadedSchema> {
  return new Map(Object.values(Events).map((t) => [t, currentSchema(t)]));
}
