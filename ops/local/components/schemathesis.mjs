// @ts-check
/**
 * Schemathesis (property-based API testing from the OpenAPI document), from PyPI into a virtualenv of
 * the stack's own (`.local/venv-schemathesis`): installed once, pinned, used by the end-to-end suite.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureAptPackages, log, run } from '../lib/proc.mjs';

export const SCHEMATHESIS_VERSION = '4.32.5';

/** @param {import('../config.mjs').StackConfig} cfg @returns {string} the `st` executable */
export function ensureSchemathesis(cfg) {
  const venv = join(cfg.localDir, 'venv-schemathesis');
  const st = join(venv, 'bin', 'st');
  const marker = join(venv, `.schemathesis-${SCHEMATHESIS_VERSION}`);
  if (existsSync(st) && existsSync(marker)) return st;
  // Debian's python3 needs python3-venv for `-m venv` (a pyenv or upstream Python has it built in).
  if (!run('python3', ['-m', 'venv', '--help'], { allowFail: true }).ok) {
    ensureAptPackages([{ pkg: 'python3-venv', probe: () => false }]);
  }
  log(`installing schemathesis ${SCHEMATHESIS_VERSION} into ${venv}`);
  run('python3', ['-m', 'venv', venv]);
  run(join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', `schemathesis==${SCHEMATHESIS_VERSION}`]);
  run('touch', [marker]);
  return st;
}
