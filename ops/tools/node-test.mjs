#!/usr/bin/env node
// @ts-check
/**
 * Runs a package's Node test files (`*.test.ts` under the given folders) with `node --test` and the tsx
 * loader. Node 20's test runner does not expand globs itself, hence this small wrapper.
 *
 *   node ../ops/tools/node-test.mjs src test
 *   node ../ops/tools/node-test.mjs src test test/x.test.ts   (files named: only those)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** @param {string} dir @returns {string[]} */
function find(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules') return [];
    if (statSync(path).isDirectory()) return find(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

// `npm test -w workers -- test/x.test.ts` appends files to the package's folders: then only those files run.
const args = process.argv.slice(2);
const named = args.filter((a) => a.endsWith('.test.ts') && existsSync(a) && statSync(a).isFile());
const dirs = named.length > 0 ? [] : args;
const files = named.length > 0 ? named : dirs.flatMap(find).sort();
if (files.length === 0) {
  process.stderr.write(`no *.test.ts files under ${dirs.join(', ')}\n`);
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
  // The workers' suites run consumers in the test process: a pool thread for each (workers/src/env.ts).
  env: { UV_THREADPOOL_SIZE: '32', ...process.env },
});
process.exit(res.status ?? 1);
