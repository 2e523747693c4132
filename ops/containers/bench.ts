/**
 * `npm run bench:containers`: per image, its size; for gateway, ws-edge and workers, container start →
 * ready (`docker start` until /readyz answers 200, polled every 20 ms over the container network; required
 * < 30 s, goal < 2 s for the Bun services); and the blue-green switch's failed requests under load (target
 * 0). Runs the dev stage on the local images (ops/containers/test.mjs builds them), then takes it down.
 * Prints a table and writes .local/artifacts/containers.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stackConfig } from '../local/config.mjs';
import { baseImages } from './bases.mjs';
import { buildImages, IMAGES, versionInfo } from './build.mjs';
import { dockerBin, ensureEngine } from './engine.mjs';
import { customer, Stage } from './harness';
import { OrderLoad } from './load';

const cfg = stackConfig();
const docker = (args: string[]) => spawnSync(dockerBin(), args, { encoding: 'utf8' });
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

function sizeMb(image: string) {
  const r = docker(['image', 'inspect', image, '--format', '{{.Size}}']);
  return r.status === 0 ? Math.round(Number(r.stdout.trim()) / 1e6) : Number.NaN;
}

async function startToReady(stage: Stage, service: string, port: number) {
  const c = stage.running(service)[0];
  if (!c) throw new Error(`${service} is not running`);
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    docker(['stop', '-t', '20', c.name]);
    const t0 = performance.now();
    docker(['start', c.name]);
    const ip = stage.inspect(c.name, '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}').split(' ')[0];
    for (;;) {
      const ok = await fetch(`http://${ip}:${port}/readyz`, { signal: AbortSignal.timeout(500) })
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) break;
      if (performance.now() - t0 > 60_000) throw new Error(`${service} not ready within 60 s`);
      await Bun.sleep(20);
    }
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)] as number, max: times[times.length - 1] as number, rounds: times.length };
}

await ensureEngine(cfg);
await buildImages(cfg, { localBases: true });
const stage = new Stage('dev');
stage.down();
const upS = stage.up();
const sizes: Record<string, number> = {};
for (const name of Object.keys(IMAGES)) sizes[`order-platform/${name}`] = sizeMb(`order-platform/${name}:dev`);
for (const image of Object.values(baseImages(cfg))) sizes[image] = sizeMb(image);

const ready: Record<string, { median: number; max: number; rounds: number }> = {};
try {
  ready.gateway = await startToReady(stage, 'gateway', 8080);
  ready['ws-edge'] = await startToReady(stage, 'ws-edge', 8090);
  ready.workers = await startToReady(stage, 'workers-pipeline', 9400);
  const customers = await Promise.all([1, 2, 3, 4].map((i) => customer(stage, `bench-bg-${i}`)));
  const load = new OrderLoad(stage, customers, 20, 100_000).start();
  const bg = stage.blueGreen(() => {});
  const tag = versionInfo(cfg.root).version;
  // Load before, during (the switch is asynchronous: requests keep leaving) and after each switch.
  await Bun.sleep(3_000);
  const deploy = await bg.deploy(tag);
  await Bun.sleep(3_000);
  const rollback = await bg.rollback();
  await Bun.sleep(3_000);
  const res = await load.stop();
  const result = {
    stageUpS: upS,
    sizesMb: sizes,
    startToReadyS: ready,
    blueGreen: {
      rate: 20,
      requests: res.sent,
      failedRequests: res.firstAttemptFailures.length,
      unacknowledged: res.unacknowledged,
      switchS: deploy.totalS,
      rollbackS: rollback.totalS,
    },
  };
  const line = (k: string, v: string) => console.log(`${k.padEnd(44)} ${v}`);
  console.log(`\ncontainers (dev stage up in ${upS.toFixed(0)} s)`);
  for (const [image, mb] of Object.entries(sizes)) line(`size ${image}`, `${mb} MB`);
  for (const [svc, r] of Object.entries(ready)) {
    const goal = svc === 'workers' ? 30 : 2;
    line(
      `start → ready ${svc} (median / max of ${r.rounds})`,
      `${r.median.toFixed(2)} s / ${r.max.toFixed(2)} s  (required < 30 s: ${r.max < 30 ? 'met' : 'NOT met'}; goal < ${goal} s: ${r.median < goal ? 'met' : 'NOT met'})`,
    );
  }
  line(
    'blue-green switch + rollback at 20 orders/s',
    `${res.firstAttemptFailures.length} failed of ${res.sent} (target 0: ${res.firstAttemptFailures.length === 0 ? 'met' : 'NOT met'}); switch ${deploy.totalS.toFixed(1)} s, rollback ${rollback.totalS.toFixed(1)} s`,
  );
  const dir = join(cfg.localDir, 'artifacts');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'containers.json'), JSON.stringify(result, null, 2));
} finally {
  stage.down();
}
