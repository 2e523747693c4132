#!/usr/bin/env node
// @ts-check
/**
 * The image policy, checked on built images (CI runs it before the vulnerability scan; the container suite
 * runs it here): a non-root user, a health check, the OCI labels (version, revision, source), and no build
 * secret in any layer — the CA bundle a build may be given (--secret id=ca) must never be baked in, so
 * every layer's files are searched for the certificates of this machine's private CAs.
 *
 *   node ops/containers/policy.mjs [--registry HOST] [--only gateway,workers] [--tag dev]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IMAGES } from './build.mjs';
import { dockerBin } from './engine.mjs';

const PRIVATE_CAS = '/usr/local/share/ca-certificates';

/** The machine's own CA certificates (not the public ones every image has). */
function privateCas() {
  if (!existsSync(PRIVATE_CAS)) return [];
  return readdirSync(PRIVATE_CAS)
    .filter((f) => f.endsWith('.crt'))
    .map((f) => join(PRIVATE_CAS, f));
}

/** A base64 body line of each PEM file: what a copy of the file in a layer would contain. @param {string[]} files */
function markersOf(files) {
  return files.flatMap((f) => {
    const lines = readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => /^[A-Za-z0-9+/]{64}$/.test(l));
    // A line from the middle of the certificate: unique to it, and what a copy of the file would contain.
    const line = lines[Math.floor(lines.length / 2)];
    return line ? [{ file: f, line }] : [];
  });
}

/**
 * @param {string} image
 * @param {{ secretFiles?: string[] }} [o] PEM files that must be in no layer (default: the machine's private CAs)
 * @returns {{ image: string, problems: string[], user: string, sizeMb: number, secretScan?: string }}
 */
export function checkImage(image, o = {}) {
  const problems = [];
  const r = spawnSync(dockerBin(), ['image', 'inspect', image, '--format', '{{json .}}'], { encoding: 'utf8' });
  if (r.status !== 0) return { image, problems: [`not found: ${r.stderr.trim()}`], user: '', sizeMb: 0 };
  const info = JSON.parse(r.stdout);
  const user = String(info.Config.User ?? '');
  const uid = user.split(':')[0];
  if (uid === '' || uid === 'root' || uid === '0') problems.push(`runs as root (User="${user}")`);
  if (!info.Config.Healthcheck?.Test?.length) problems.push('no HEALTHCHECK');
  const labels = info.Config.Labels ?? {};
  for (const l of ['org.opencontainers.image.version', 'org.opencontainers.image.revision', 'org.opencontainers.image.source'])
    if (!labels[l]) problems.push(`label ${l} missing`);
  const markers = markersOf(o.secretFiles ?? privateCas());
  /** @type {'clean' | 'skipped: no private CA on this machine'} */
  let secretScan = 'clean';
  if (markers.length === 0) secretScan = 'skipped: no private CA on this machine';
  else {
    // Docker (20.10's image store) saves layers as plain tar archives: file contents appear verbatim.
    // pipefail: a failed save must fail the check, not read as "0 matches".
    const patterns = markers.map((m) => `-e '${m.line}'`).join(' ');
    const saved = spawnSync(
      'bash',
      ['-o', 'pipefail', '-c', `'${dockerBin()}' save '${image}' | { grep -a -c -F ${patterns} || test $? = 1; }`],
      {
        encoding: 'utf8',
      },
    );
    if (saved.status !== 0) problems.push(`could not scan the layers: ${saved.stderr.trim().slice(0, 300)}`);
    else if (Number(saved.stdout.trim() || '0') > 0)
      problems.push(`a build secret (one of ${markers.map((m) => m.file).join(', ')}) is inside a layer`);
  }
  return { image, problems, user, sizeMb: Math.round(info.Size / 1e6), secretScan };
}

const self = process.argv[1]?.endsWith('policy.mjs');
if (self) {
  const { values } = parseArgs({
    options: { registry: { type: 'string' }, only: { type: 'string' }, tag: { type: 'string', default: 'dev' } },
  });
  const prefix = values.registry ? `${values.registry}/` : '';
  let failed = 0;
  for (const name of Object.keys(IMAGES)) {
    if (values.only && !values.only.split(',').includes(name)) continue;
    const res = checkImage(`${prefix}order-platform/${name}:${values.tag}`);
    failed += res.problems.length > 0 ? 1 : 0;
    process.stdout.write(
      `${res.problems.length ? 'FAIL' : 'ok  '}  ${res.image} (user ${res.user}, ${res.sizeMb} MB, secret scan ${res.secretScan ?? 'not run'})${res.problems.map((p) => `\n      ${p}`).join('')}\n`,
    );
  }
  process.exit(failed === 0 ? 0 : 1);
}
