/**
 * Where schema ids come from. With a registry configured (a Confluent-compatible API: Confluent Schema
 * Registry, or Apicurio's `/apis/ccompat/v7`), ids are registered there; without one, a pinned table
 * committed beside the schemas (`avro/schema-ids.json`) gives every schema version a fixed id, so all
 * services still agree on the wire format.
 *
 * Subjects follow RecordNameStrategy (the record's full name): several event types share one topic.
 */
import { readFileSync } from 'node:fs';
import { ContractError, ContractErrorCodes } from './errors';
import { fingerprint, fromSchemaJson, loadSchemaFile } from './schemas';

export interface SchemaRegistry {
  /** The id of this schema under `subject`, registering it when the registry allows. */
  idFor(subject: string, schemaText: string): Promise<number>;
  /** The writer schema registered under `id`; `CONTRACTS_UNKNOWN_SCHEMA_ID` when there is none. */
  schemaText(id: number): Promise<string>;
  /** A label for logs. */
  readonly describe: string;
}

interface PinnedEntry {
  id: number;
  subject: string;
  file: string;
  fingerprint: string;
}

export const PINNED_TABLE = new URL('../avro/schema-ids.json', import.meta.url);

export function readPinnedTable(): PinnedEntry[] {
  const raw = JSON.parse(readFileSync(PINNED_TABLE, 'utf8')) as { schemas: PinnedEntry[] };
  return raw.schemas;
}

export class PinnedSchemaRegistry implements SchemaRegistry {
  readonly describe = 'pinned schema-id table (contracts/avro/schema-ids.json)';
  private readonly byId = new Map<number, PinnedEntry>();
  private readonly byFingerprint = new Map<string, PinnedEntry>();

  constructor(entries: PinnedEntry[] = readPinnedTable()) {
    for (const e of entries) {
      this.byId.set(e.id, e);
      this.byFingerprint.set(`${e.subject}/${e.fingerprint}`, e);
    }
  }

  async idFor(subject: string, schemaText: string): Promise<number> {
    const fp = fingerprint(fromSchemaJson(JSON.parse(schemaText)).type);
    const entry = this.byFingerprint.get(`${subject}/${fp}`);
    if (!entry) {
      throw new ContractError(
        ContractErrorCodes.schemaNotPinned,
        `schema ${subject} (fingerprint ${fp.slice(0, 12)}…) has no pinned id: run \`npm run schemas:pin -w contracts\``,
      );
    }
    return entry.id;
  }

  async schemaText(id: number): Promise<string> {
    const entry = this.byId.get(id);
    if (!entry) throw new ContractError(ContractErrorCodes.unknownSchemaId, `schema id ${id} is not in the pinned table`);
    return loadSchemaFile(entry.file).text;
  }
}

export interface HttpRegistryOptions {
  url: string;
  timeoutMs?: number;
  /** Compatibility level set on each subject this client registers under. */
  compatibility?: 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE';
  /** Prepended to every subject: isolates a test run's subjects on a shared registry. */
  subjectPrefix?: string;
  fetch?: typeof fetch;
}

/** A client for the Confluent Schema Registry REST API (the subset producers and consumers need). */
export class HttpSchemaRegistry implements SchemaRegistry {
  readonly describe: string;
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly compatibility: string;
  private readonly fetch: typeof fetch;
  private readonly subjectPrefix: string;
  private readonly texts = new Map<number, Promise<string>>();
  private readonly configured = new Set<string>();

  constructor(opts: HttpRegistryOptions) {
    const parsed = new URL(opts.url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`schema registry URL must be http(s): ${opts.url}`);
    this.url = opts.url.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.compatibility = opts.compatibility ?? 'BACKWARD_TRANSITIVE';
    this.fetch = opts.fetch ?? fetch;
    this.subjectPrefix = opts.subjectPrefix ?? '';
    this.describe = `schema registry at ${parsed.origin}`;
  }

  private async call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    let res: Response;
    try {
      res = await this.fetch(`${this.url}${path}`, {
        method,
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json', accept: 'application/vnd.schemaregistry.v1+json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new ContractError(ContractErrorCodes.registryUnavailable, `${this.describe} did not answer ${method} ${path}`, true, {
        cause: err,
      });
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = { message: text.slice(0, 200) };
    }
    if (res.status >= 500) {
      throw new ContractError(ContractErrorCodes.registryUnavailable, `${this.describe} answered ${res.status} to ${method} ${path}`, true);
    }
    return { status: res.status, json };
  }

  async idFor(subject: string, schemaText: string): Promise<number> {
    const s = encodeURIComponent(`${this.subjectPrefix}${subject}`);
    if (!this.configured.has(subject)) {
      // Best effort: a registry that refuses per-subject config still registers and serves schemas.
      await this.call('PUT', `/config/${s}`, { compatibility: this.compatibility }).catch(() => undefined);
      this.configured.add(subject);
    }
    const { status, json } = await this.call('POST', `/subjects/${s}/versions`, { schema: schemaText, schemaType: 'AVRO' });
    const id = (json as { id?: unknown } | null)?.id;
    if (status !== 200 || typeof id !== 'number') {
      const message = (json as { message?: string } | null)?.message ?? JSON.stringify(json);
      throw new ContractError(ContractErrorCodes.incompatibleSchema, `registering ${subject} failed (${status}): ${message}`);
    }
    this.texts.set(id, Promise.resolve(schemaText));
    return id;
  }

  schemaText(id: number): Promise<string> {
    let text = this.texts.get(id);
    if (!text) {
      text = this.call('GET', `/schemas/ids/${id}`).then(({ status, json }) => {
        const schema = (json as { schema?: unknown } | null)?.schema;
        if (status === 404) throw new ContractError(ContractErrorCodes.unknownSchemaId, `${this.describe} has no schema with id ${id}`);
        if (status !== 200 || typeof schema !== 'string') {
          throw new ContractError(ContractErrorCodes.registryUnavailable, `${this.describe} answered ${status} for schema ${id}`, true);
        }
        return schema;
      });
      // A failed lookup is not cached: the next message may find the registry back.
      text.catch(() => this.texts.delete(id));
      this.texts.set(id, text);
    }
    return text;
  }
}

/** The registry a service should use: HTTP when a URL is configured, else the pinned table. */
export function schemaRegistryFor(url: string | undefined, opts: Omit<HttpRegistryOptions, 'url'> = {}): SchemaRegistry {
  return url ? new HttpSchemaRegistry({ ...opts, url }) : new PinnedSchemaRegistry();
}
