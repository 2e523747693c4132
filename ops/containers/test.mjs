#!/usr/bin/env node
// @ts-check
/**
 * `npm run test:containers` (called by .ci/run after `npm test`): brings Docker up (Debian's engine,
 * installed and started when missing), builds Compose v2 from the Go module proxy once, the local base
 * images and the project's images (cached: a second run rebuilds nothing unchanged), then runs the
 * container suites one after the other — build-and-push to a registry on loopback with the image policy
 * (publish.suite.ts), then dev, staging and prod for real (stages.suite.ts) — and takes everything down.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { stackConfig } from '../local/config.mjs';
import { log } from '../local/lib/proc.mjs';
import { ensureBases } from './bases.mjs';
import { buildImages } from './build.mjs';
import { ensureCompose, ensureEngine } from './engine.mjs';

const cfg = stackConfig();
const t0 = Date.now();
const lap = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
await ensureEngine(cfg);
log(`Docker engine answers (${lap()})`);
ensureCompose(cfg);
log(`Compose v2 ready (${lap()})`);
await ensureBases(cfg);
log(`local base images ready (${lap()})`);
await buildImages(cfg, { localBases: true });
log(`project images built (${lap()})`);
const bun = join(cfg.root, 'node_modules/.bin/bun');
// Named *.suite.ts, not *.test.ts: the ops workspace's `bun test` (npm test) must not pick them up.
const suites = ['./ops/containers/publish.suite.ts', './ops/containers/stages.suite.ts'];
const r = spawnSync(bun, ['test', '--timeout', String(30 * 60_000), ...suites], { cwd: cfg.root, stdio: 'inherit' });
log(`container suites ${r.status === 0 ? 'passed' : 'FAILED'} in ${lap()}`);
process.exit(r.status ?? 1);
