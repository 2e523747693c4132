/**
 * Configuration parsing for every service: one `env.ts` per service declares what it reads with these
 * field helpers, `parseEnv` validates everything at start-up and fails with one message listing every
 * bad or missing variable. Nothing else in a service reads `process.env`. What several services read
 * (Redis, Kafka, the JWT keys, …) is declared once, in fragments.ts.
 *
 * Units are in names (`KAFKA_SESSION_TIMEOUT_MS`); secrets are never echoed in error messages.
 */

import { readFileSync } from 'node:fs';
import { PlatformErrorCodes } from '../error-codes';

export interface Field<T> {
  parse(raw: string | undefined, name: string): T;
  /** Hide the raw value in error messages. */
  secret?: boolean;
  /**
   * The variable's former name. Set alone (the new name unset) it fails start-up naming the new one: a
   * deployment still setting the old name must not run silently on the default.
   */
  renamedFrom?: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = PlatformErrorCodes.invalidConfig;
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

class FieldProblem extends Error {}

function present(raw: string | undefined): raw is string {
  return raw !== undefined && raw.trim() !== '';
}

interface Opts<T> {
  default?: T;
  secret?: boolean;
}

function field<T>(opts: Opts<T>, convert: (raw: string) => T): Field<T> {
  return {
    secret: opts.secret,
    parse(raw) {
      if (!present(raw)) {
        if (opts.default !== undefined) return opts.default;
        throw new FieldProblem('is required');
      }
      return convert(raw.trim());
    },
  };
}

export function str(opts: Opts<string> & { pattern?: RegExp; minLength?: number } = {}): Field<string> {
  return field(opts, (raw) => {
    if (opts.minLength !== undefined && raw.length < opts.minLength)
      throw new FieldProblem(`must be at least ${opts.minLength} characters`);
    if (opts.pattern && !opts.pattern.test(raw)) throw new FieldProblem(`must match ${opts.pattern}`);
    return raw;
  });
}

/** An optional string: empty or unset gives `''`. */
export function optionalStr(): Field<string> {
  return { parse: (raw) => (present(raw) ? raw.trim() : '') };
}

export function int(opts: Opts<number> & { min?: number; max?: number } = {}): Field<number> {
  return field(opts, (raw) => {
    const n = Number(raw);
    if (!Number.isInteger(n)) throw new FieldProblem('must be an integer');
    if (opts.min !== undefined && n < opts.min) throw new FieldProblem(`must be ≥ ${opts.min}`);
    if (opts.max !== undefined && n > opts.max) throw new FieldProblem(`must be ≤ ${opts.max}`);
    return n;
  });
}

/** A finite number; `above` is an exclusive lower bound (`min`/`max` are inclusive). */
export function num(opts: Opts<number> & { min?: number; max?: number; above?: number } = {}): Field<number> {
  return field(opts, (raw) => {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new FieldProblem('must be a number');
    if (opts.above !== undefined && n <= opts.above) throw new FieldProblem(`must be > ${opts.above}`);
    if (opts.min !== undefined && n < opts.min) throw new FieldProblem(`must be ≥ ${opts.min}`);
    if (opts.max !== undefined && n > opts.max) throw new FieldProblem(`must be ≤ ${opts.max}`);
    return n;
  });
}

export function port(opts: Opts<number> = {}): Field<number> {
  return int({ ...opts, min: 0, max: 65_535 });
}

export function bool(opts: Opts<boolean> = {}): Field<boolean> {
  return field(opts, (raw) => {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new FieldProblem('must be true or false');
  });
}

export function oneOf<const T extends string>(values: readonly T[], opts: Opts<T> = {}): Field<T> {
  return field(opts, (raw) => {
    if (!(values as readonly string[]).includes(raw)) throw new FieldProblem(`must be one of ${values.join(', ')}`);
    return raw as T;
  });
}

export function url(opts: Opts<string> & { protocols: readonly string[] }): Field<string> {
  return field(opts, (raw) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new FieldProblem('must be a URL');
    }
    if (!opts.protocols.includes(parsed.protocol)) throw new FieldProblem(`must use ${opts.protocols.join(' or ')}`);
    return raw;
  });
}

/**
 * A value given inline (`NAME`) or as a file path (`NAME_FILE`, for mounted secrets). A problem is added
 * to `problems` (for one ConfigError naming them all) when neither is usable.
 */
export function fromInlineOrFile(inline: string, file: string, name: string, problems: string[]): string {
  if (inline !== '') return inline;
  if (file !== '') {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      problems.push(`${name}_FILE cannot be read (${file})`);
      return '';
    }
  }
  problems.push(`${name} or ${name}_FILE is required`);
  return '';
}

/** `field`, formerly named `oldName` (see `Field.renamedFrom`). */
export function renamedFrom<T>(oldName: string, field: Field<T>): Field<T> {
  return { ...field, renamedFrom: oldName };
}

/** Comma-separated, trimmed, empty items dropped. */
export function list(opts: Opts<string[]> & { minItems?: number } = {}): Field<string[]> {
  return field(opts, (raw) => {
    const items = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (items.length < (opts.minItems ?? 1)) throw new FieldProblem(`must list at least ${opts.minItems ?? 1} item(s)`);
    return items;
  });
}

export type Spec = Record<string, Field<unknown>>;
export type Parsed<S extends Spec> = { readonly [K in keyof S]: S[K] extends Field<infer T> ? T : never };

export function parseEnv<S extends Spec>(spec: S, source: Record<string, string | undefined>): Parsed<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, f] of Object.entries(spec)) {
    const raw = source[name];
    // The old name still set means a deployment not yet updated: refuse unless it agrees with the new
    // name. An image's or compose file's own default for the new name must not silently win over it.
    const old = f.renamedFrom === undefined ? undefined : source[f.renamedFrom];
    if (f.renamedFrom !== undefined && present(old) && (!present(raw) || old?.trim() !== raw?.trim())) {
      problems.push(
        present(raw)
          ? `${f.renamedFrom} was renamed ${name}, and the two disagree (${f.renamedFrom}="${old}", ${name}="${raw}"): remove ${f.renamedFrom}`
          : `${f.renamedFrom} was renamed ${name}: set ${name} instead (${f.renamedFrom} is no longer read)`,
      );
      continue;
    }
    try {
      out[name] = f.parse(raw, name);
    } catch (err) {
      if (!(err instanceof FieldProblem)) throw err;
      const shown = raw === undefined || f.secret ? '' : ` (got "${raw.length > 60 ? `${raw.slice(0, 60)}…` : raw}")`;
      problems.push(`${name} ${err.message}${shown}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(out) as Parsed<S>;
}
