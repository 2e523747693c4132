/**
 * `bun ops/loadtest/ws/run-local.ts`: the ws-storm engine on its own, against a platform it starts for
 * the run (gateway + one ws-edge on the benchmark ports, the bench database and a fresh namespace, as the
 * benchmarks do); the engine adds the other edges. Prints the summary and writes
 * `.local/artifacts/ws-storm.json` (summary and every second). `npm run loadtest -- ws-storm` is the
 * user-facing way; this reproduces the engine's own figures without the tool around it.
 *
 * WS_STORM_CONNECTIONS (50000), WS_STORM_RATE (200), WS_STORM_SECONDS (60), WS_STORM_WAVE (true),
 * WS_STORM_SHORT (false), WS_STORM_CLIENTS (engine's default), WS_STORM_EDGES (engine's default).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchEnv, int, oneOf } from '../../bench/env';
import { benchStack } from '../../bench/stack';
import { startServices, stopServices } from '../../local/services.mjs';
import { formatWsStorm, runWsStorm } from './index';

const e = benchEnv({
  WS_STORM_CONNECTIONS: int({ default: 50_000, min: 1 }),
  WS_STORM_RATE: int({ default: 200, min: 0 }),
  WS_STORM_SECONDS: int({ default: 60, min: 1 }),
  WS_STORM_WAVE: oneOf(['true', 'false'] as const, { default: 'true' }),
  WS_STORM_SHORT: oneOf(['true', 'false'] as const, { default: 'false' }),
  WS_STORM_CLIENTS: int({ default: 0, min: 0 }),
  WS_STORM_EDGES: int({ default: 0, min: 0 }),
});

const NAMESPACE = 'loadtestws';
const { cfg, mode, env } = await benchStack(NAMESPACE);
const { procs } = await startServices(cfg, mode, {
  only: ['gateway', 'ws-edge'],
  onLine: (s, line) => {
    if (/"level":"(error|fatal)"/.test(line)) process.stderr.write(`[${s}] ${line}\n`);
  },
});
try {
  const result = await runWsStorm(
    {
      gatewayUrl: `http://${cfg.host}:${mode.ports.gatewayPort}`,
      wsUrls: [`ws://${cfg.host}:${mode.ports.wsEdgePort}/ws/orders`],
      connections: e.WS_STORM_CONNECTIONS,
      publishRate: e.WS_STORM_RATE,
      durationS: e.WS_STORM_SECONDS,
      reconnectWave: e.WS_STORM_WAVE === 'true',
      short: e.WS_STORM_SHORT === 'true',
      namespace: NAMESPACE,
      stage: 'test',
      redisUrl: env.REDIS_URL,
      clientProcesses: e.WS_STORM_CLIENTS || undefined,
      minEdges: e.WS_STORM_EDGES || undefined,
    },
    (s) =>
      process.stderr.write(
        `t=${s.t} ${s.phase} open ${s.open} connecting ${s.connecting} published ${s.published} delivered ${s.delivered} ` +
          `p50 ${s.deliveryP50Ms ?? '–'} p99 ${s.deliveryP99Ms ?? '–'} ms errors ${s.errors} resumed ${s.resumed} resync ${s.resync} replayed ${s.replayed} lag ${s.clientLagMs}\n`,
      ),
  );
  process.stdout.write(`\n${formatWsStorm(result)}\n`);
  const dir = join(cfg.localDir, 'artifacts');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'ws-storm.json'), JSON.stringify(result, null, 2));
} finally {
  await stopServices(procs);
}
process.exit(0);
