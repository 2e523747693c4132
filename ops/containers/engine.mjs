// @ts-check
/**
 * The container engine and the tools around it, brought up when missing: Debian's Docker engine,
 * `dockerd` started when nothing answers on its socket, and a Compose v2 CLI
 * built once from the Go module proxy into the git-ignored cache (Debian 12 packages only Compose 1.29).
 *
 * Builds use Debian's own docker CLI (`/usr/bin/docker`, BuildKit built in): a newer CLI found first on
 * the PATH may refuse BuildKit without the buildx plugin.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureAptPackages, log, run, runningPid, startDetached, waitFor, which } from '../local/lib/proc.mjs';

export const COMPOSE_VERSION = 'v2.39.4';
const COMPOSE_MODULE = 'github.com/docker/compose/v2';

/** Debian's CLI when present (BuildKit without plugins), else whatever `docker` is. */
export function dockerBin() {
  return existsSync('/usr/bin/docker') ? '/usr/bin/docker' : (which('docker') ?? '/usr/bin/docker');
}

/** @param {string[]} args @param {Parameters<typeof run>[2]} [opts] */
export function docker(args, opts = {}) {
  return run(dockerBin(), args, { ...opts, env: { DOCKER_BUILDKIT: '1', ...(opts.env ?? process.env) } });
}

function engineAnswers() {
  return run(dockerBin(), ['version', '--format', '{{.Server.Version}}'], { allowFail: true }).ok;
}

/**
 * Docker engine up: packages installed when missing, dockerd started when the socket does not answer.
 * @param {import('../local/config.mjs').StackConfig} cfg
 */
export async function ensureEngine(cfg) {
  ensureAptPackages([{ pkg: 'docker.io', probe: () => existsSync('/usr/bin/dockerd') || which('dockerd') !== null }]);
  if (engineAnswers()) return;
  if (runningPid(cfg, 'dockerd') === null) {
    log('starting dockerd');
    startDetached(cfg, 'dockerd', which('dockerd') ?? '/usr/bin/dockerd', []);
  }
  await waitFor('Docker engine', async () => engineAnswers(), {
    timeoutMs: 60_000,
    logPath: join(cfg.logDir, 'dockerd.log'),
    alive: () => runningPid(cfg, 'dockerd') !== null || engineAnswers(),
  });
}

/**
 * The Compose v2 CLI: built once (about 5 minutes on 2 cores). Not with `go install`: compose's go.mod
 * has exclude directives, so the module is downloaded, copied out of the module cache and built in place.
 * @param {import('../local/config.mjs').StackConfig} cfg
 */
export function ensureCompose(cfg) {
  const dir = join(cfg.cacheDir, `compose-${COMPOSE_VERSION}`);
  const bin = join(dir, 'docker-compose');
  if (existsSync(bin)) return bin;
  ensureAptPackages([{ pkg: 'golang-go', probe: () => which('go') !== null }]);
  mkdirSync(dir, { recursive: true });
  log(`building Docker Compose ${COMPOSE_VERSION} from the Go module proxy into ${dir} (about 5 minutes)`);
  const env = { ...process.env, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' };
  const dl = run('go', ['mod', 'download', '-json', `${COMPOSE_MODULE}@${COMPOSE_VERSION}`], { env });
  const moduleDir = JSON.parse(dl.stdout).Dir;
  const src = join(dir, 'src');
  rmSync(src, { recursive: true, force: true });
  cpSync(moduleDir, src, { recursive: true });
  run('chmod', ['-R', 'u+w', src]);
  const ldflags = `-s -w -X ${COMPOSE_MODULE}/internal.Version=${COMPOSE_VERSION}`;
  run('go', ['build', '-trimpath', '-ldflags', ldflags, '-o', `${bin}.tmp`, './cmd'], { env, cwd: src });
  renameSync(`${bin}.tmp`, bin);
  chmodSync(bin, 0o755);
  rmSync(src, { recursive: true, force: true });
  return bin;
}

/** The machine's CA bundle, given to builds as a BuildKit secret (never baked into an image). */
export function caBundle() {
  for (const f of ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt']) {
    if (existsSync(f) && readFileSync(f, 'utf8').includes('BEGIN CERTIFICATE')) return f;
  }
  return null;
}
