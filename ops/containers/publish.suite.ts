/**
 * The CI/CD path on this machine: the build-and-push script the GitHub Actions workflow runs
 * (.github/workflows/images.yml → ops/containers/build.mjs) pushes every image, tagged with the version
 * and the commit, to a real registry on loopback; what the registry serves is what was built; the image
 * policy holds for each (and catches a build secret baked into a layer).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stackConfig } from '../local/config.mjs';
import { buildImages, IMAGES, versionInfo } from './build.mjs';
import { dockerBin } from './engine.mjs';
import { checkImage } from './policy.mjs';
import { registryDown, registryUp } from './registry.mjs';

const cfg = stackConfig();
const docker = (args: string[]) => spawnSync(dockerBin(), args, { encoding: 'utf8' });
let registry = '';

beforeAll(async () => {
  registry = await registryUp(cfg);
}, 60_000);
afterAll(() => registryDown(cfg));

describe('build and push (the CI/CD script)', () => {
  test(
    'every image is pushed with its version and commit tags, and the registry serves what was built',
    async () => {
      const built = await buildImages(cfg, { localBases: true, registry, push: true });
      const { version, sha } = versionInfo(cfg.root);
      expect(Object.keys(built).sort()).toEqual(Object.keys(IMAGES).sort());
      for (const name of Object.keys(IMAGES)) {
        const tags = (await (await fetch(`http://${registry}/v2/order-platform/${name}/tags/list`)).json()) as { tags: string[] };
        expect(tags.tags).toEqual(expect.arrayContaining([version, `${version}-${sha}`, `sha-${sha}`]));
        // The digest the registry answers for the commit tag is the one the engine recorded on push.
        const res = await fetch(`http://${registry}/v2/order-platform/${name}/manifests/sha-${sha}`, {
          headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
        });
        expect(res.status).toBe(200);
        const served = res.headers.get('docker-content-digest');
        const repoDigests = docker([
          'image',
          'inspect',
          `${registry}/order-platform/${name}:sha-${sha}`,
          '--format',
          '{{json .RepoDigests}}',
        ]).stdout;
        expect(repoDigests).toContain(String(served));
      }
      console.log(`pushed to ${registry}: ${Object.keys(built).join(', ')} as ${version}, ${version}-${sha}, sha-${sha}`);
    },
    30 * 60_000,
  );

  test('a pushed image pulls back by digest and runs', () => {
    const { sha } = versionInfo(cfg.root);
    const ref = `${registry}/order-platform/gateway:sha-${sha}`;
    const digest = JSON.parse(docker(['image', 'inspect', ref, '--format', '{{json .RepoDigests}}']).stdout)[0] as string;
    expect(docker(['image', 'rm', ref]).status).toBe(0);
    expect(docker(['pull', '-q', digest]).status).toBe(0);
    const run = docker(['run', '--rm', '--entrypoint', 'bun', digest, '--version']);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  }, 120_000);

  test('the image policy holds for every image, and catches a build secret left in a layer', () => {
    for (const name of Object.keys(IMAGES)) {
      const r = checkImage(`order-platform/${name}:dev`);
      expect({ image: r.image, problems: r.problems }).toEqual({ image: r.image, problems: [] });
      expect(r.user).not.toBe('');
    }
    // A deliberately bad image: a secret PEM file copied into a layer (and deleted in the next one).
    const dir = join(cfg.localDir, 'policy-probe');
    mkdirSync(dir, { recursive: true });
    const secret = join(dir, 'secret.pem');
    const body = randomBytes(48 * 8)
      .toString('base64')
      .match(/.{64}/g) as string[];
    writeFileSync(secret, `-----BEGIN CERTIFICATE-----\n${body.join('\n')}\n-----END CERTIFICATE-----\n`);
    writeFileSync(join(dir, 'Dockerfile'), 'FROM order-platform/gateway:dev\nUSER root\nCOPY secret.pem /tmp/ca/\nRUN rm -rf /tmp/ca\n');
    expect(docker(['build', '-q', '-t', 'local/policy-probe', dir]).status).toBe(0);
    const bad = checkImage('local/policy-probe', { secretFiles: [secret] });
    const clean = checkImage('order-platform/gateway:dev', { secretFiles: [secret] });
    docker(['image', 'rm', 'local/policy-probe']);
    rmSync(dir, { recursive: true, force: true });
    expect(bad.problems.join('\n')).toContain('build secret');
    expect(clean.problems).toEqual([]);
  }, 120_000);
});
