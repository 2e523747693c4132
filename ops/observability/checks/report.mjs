// @ts-check
/**
 * The observability check's report: one `ok`/`FAIL` line per check (details indented under a failure),
 * and the failures collected for the summary and the exit code.
 */
import { relative } from 'node:path';

/** @type {string[]} */
export const failures = [];

/** A path as the report shows it: relative to where the check was started. */
export const rel = (/** @type {string} */ p) => relative(process.cwd(), p) || '.';

/** @param {string} what @param {string} [detail] */
export function fail(what, detail) {
  failures.push(what);
  console.log(`FAIL  ${what}`);
  if (detail) console.log(indent(detail));
}

/** @param {string} what */
export function ok(what) {
  console.log(`ok    ${what}`);
}

/** @param {string} text */
function indent(text) {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');
}
