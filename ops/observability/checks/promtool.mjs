// @ts-check
/**
 * Finding promtool (PROMTOOL, else PATH) and running it as one reported check: ok or FAIL by its exit
 * status, with its output shown on failure.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { here } from './files.mjs';
import { fail, ok } from './report.mjs';

/** @returns {string | undefined} */
export function findPromtool() {
  /** @param {string} p */
  const executable = (p) => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  const given = process.env.PROMTOOL;
  if (given) {
    if (executable(given)) return given;
    fail(`PROMTOOL=${given} is not an executable file`);
    return undefined;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, 'promtool'))) return join(dir, 'promtool');
  }
  fail(
    'promtool not found (set PROMTOOL or put it on PATH)',
    'Debian/Ubuntu: apt-get install --no-install-recommends prometheus (ships /usr/bin/promtool);\n' +
      'or take promtool from a release archive at https://github.com/prometheus/prometheus/releases',
  );
  return undefined;
}

/** The first line of `promtool --version`, for the report's header. @param {string} promtool */
export function promtoolVersion(promtool) {
  const v = spawnSync(promtool, ['--version'], { encoding: 'utf8' });
  return `${v.stdout ?? ''}${v.stderr ?? ''}`.split('\n')[0]?.trim() || 'version unknown';
}

/**
 * Runs promtool; ok/fail by exit status, with its output shown on failure.
 * @param {string} promtool @param {string[]} args @param {string} what
 * @returns {{ passed: boolean, output: string }}
 */
export function promtoolRun(promtool, args, what) {
  const r = spawnSync(promtool, args, { encoding: 'utf8', cwd: here });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.replace(/\n\s*\n(\s*\n)+/g, '\n\n');
  if (r.error) {
    fail(what, `could not run ${promtool}: ${r.error.message}`);
    return { passed: false, output };
  }
  if (r.status !== 0) {
    fail(what, `promtool ${args.join(' ')} exited ${r.status}:\n${output}`);
    return { passed: false, output };
  }
  ok(what);
  return { passed: true, output };
}
