#!/usr/bin/env node
// @ts-check
/**
 * Builds the project's images from Dockerfile.bun and Dockerfile.node, tags them with the version and the
 * commit, and pushes them when asked. The same script runs in CI (.github/workflows/images.yml, Docker Hub
 * bases) and here (local bases, a registry on loopback).
 *
 *   node ops/containers/build.mjs [--local-bases] [--registry HOST:PORT] [--push | --push-only] [--only gateway,workers]
 *
 * --push-only pushes the tags this commit's build made (CI: the very images that were scanned).
 *
 * Tags: order-platform/<image>:<version>, :<version>-<short sha>, :sha-<short sha> and :${TAG:-dev}
 * (the tag the compose files use), each prefixed with the registry when one is given.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stackConfig } from '../local/config.mjs';
import { log, run } from '../local/lib/proc.mjs';
import { ensureBases } from './bases.mjs';
import { caBundle, docker, ensureEngine } from './engine.mjs';

/** The images: name → Dockerfile and build arguments. */
export const IMAGES = /** @type {const} */ ({
  gateway: { dockerfile: 'Dockerfile.bun', args: { SERVICE: 'gateway' } },
  'ws-edge': { dockerfile: 'Dockerfile.bun', args: { SERVICE: 'ws-edge' } },
  workers: { dockerfile: 'Dockerfile.node', args: {} },
  /** The payment provider simulator and other tools (dev and staging only). */
  ops: { dockerfile: 'Dockerfile.bun', args: { SERVICE: 'ops' } },
});

/** @param {string} root */
export function versionInfo(root) {
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  const sha = run('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, allowFail: true }).stdout.trim() || 'unknown';
  const dirty = run('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, allowFail: true }).stdout.trim() !== '';
  return { version, sha: dirty ? `${sha}-dirty` : sha };
}

/**
 * @param {import('../local/config.mjs').StackConfig} cfg
 * @param {{ localBases?: boolean, registry?: string, push?: boolean, pushOnly?: boolean, only?: string[], tag?: string }} o
 */
export async function buildImages(cfg, o = {}) {
  await ensureEngine(cfg);
  const bases = o.localBases ? await ensureBases(cfg) : null;
  const { version, sha } = versionInfo(cfg.root);
  const prefix = o.registry ? `${o.registry}/` : '';
  const ca = caBundle();
  /** @type {Record<string, { tags: string[], seconds: number }>} */
  const built = {};
  for (const [name, spec] of Object.entries(IMAGES)) {
    if (o.only && !o.only.includes(name)) continue;
    const repo = `${prefix}order-platform/${name}`;
    const tags = [o.tag ?? process.env.TAG ?? 'dev', version, `${version}-${sha}`, `sha-${sha}`].map((t) => `${repo}:${t}`);
    const args = {
      ...spec.args,
      VERSION: `${version}+${sha}`,
      ...(bases ? { NODE_IMAGE: bases.node, BUN_IMAGE: bases.bun } : {}),
    };
    const started = Date.now();
    if (o.pushOnly) {
      for (const t of tags) docker(['push', t]);
      built[name] = { tags, seconds: (Date.now() - started) / 1000 };
      continue;
    }
    log(`building ${repo} (${spec.dockerfile})`);
    docker(
      [
        'build',
        '-f',
        spec.dockerfile,
        ...Object.entries(args).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
        ...(ca ? ['--secret', `id=ca,src=${ca}`] : []),
        '--label',
        `org.opencontainers.image.revision=${sha}`,
        ...tags.flatMap((t) => ['-t', t]),
        '.',
      ],
      { cwd: cfg.root, quiet: process.env.BUILD_VERBOSE === '1' ? false : undefined },
    );
    built[name] = { tags, seconds: (Date.now() - started) / 1000 };
    if (o.push) for (const t of tags) docker(['push', t]);
  }
  return built;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  const { values } = parseArgs({
    options: {
      'local-bases': { type: 'boolean', default: false },
      registry: { type: 'string' },
      push: { type: 'boolean', default: false },
      'push-only': { type: 'boolean', default: false },
      only: { type: 'string' },
      tag: { type: 'string' },
    },
  });
  const built = await buildImages(stackConfig(), {
    localBases: values['local-bases'],
    registry: values.registry,
    push: values.push,
    pushOnly: values['push-only'],
    only: values.only?.split(','),
    tag: values.tag,
  });
  for (const [name, b] of Object.entries(built)) log(`${name}: ${b.tags.join(' ')} (${b.seconds.toFixed(0)} s)`);
}
