// @ts-check
/**
 * Writes `KEY=value` files, one entry a line: the stack's connection settings, a compose stage's env
 * file, a broker's server.properties. Values are written as given (none of them needs quoting here).
 * Dependency-free (runs before `npm ci`).
 */
import { writeFileSync } from 'node:fs';

/**
 * @param {string} file @param {Record<string, string>} values
 * @param {number} [mode] file mode when the file is created (0o600 for files holding credentials)
 */
export function writeKeyValueFile(file, values, mode) {
  writeFileSync(
    file,
    `${Object.entries(values)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
    mode === undefined ? undefined : { mode },
  );
}
