#!/usr/bin/env node
// @ts-check
/**
 * `npm start`: installs what is missing, starts the local stack and every service, prints where to
 * look. Ctrl-C stops the services cleanly (the stack keeps running: `npm run stack:down` stops it).
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bootstrap, prepareData } from './bootstrap.mjs';
import { startServices, stopServices } from './services.mjs';

const t0 = Date.now();
const { cfg, registry } = await bootstrap();
prepareData(cfg, { database: cfg.postgres.database, namespace: '', seed: 'dev' });
const ports = cfg.services;
// Each service's output goes to the terminal (prefixed) and to .local/logs/<service>.log.
mkdirSync(cfg.logDir, { recursive: true });
/** @type {Map<string, import('node:fs').WriteStream>} */
const files = new Map();
const onLine = (/** @type {string} */ service, /** @type {string} */ line) => {
  let file = files.get(service);
  if (!file) {
    file = createWriteStream(join(cfg.logDir, `${service}.log`), { flags: 'a' });
    files.set(service, file);
  }
  file.write(`${line}\n`);
  process.stdout.write(`[${service}] ${line}\n`);
};
const { procs } = await startServices(cfg, { database: cfg.postgres.database, namespace: '', stage: 'dev', ports, registry }, { onLine });

const gw = `http://${cfg.host}:${ports.gatewayPort}`;
const ws = `ws://${cfg.host}:${ports.wsEdgePort}/ws/orders`;
process.stdout.write(`
──────────────────────────────────────────────────────────────────────────────
 Order platform running (ready in ${((Date.now() - t0) / 1000).toFixed(1)} s)

 REST gateway      ${gw}/api/v1         health ${gw}/readyz   metrics ${gw}/metrics
 WebSocket edge    ${ws}     health http://${cfg.host}:${ports.wsEdgePort}/readyz
 Workers           http://${cfg.host}:${ports.workerMetricsPort}/metrics
 PostgreSQL ${cfg.postgres.port}, Redis ${cfg.redis.port}, Kafka ${cfg.kafka.port}, schema registry ${registry ? cfg.registry.port : 'off (pinned ids)'}
 Logs (stack and services) in ${cfg.logDir}; connection settings in ${cfg.localDir}/stack.env

 Try it:
   TOKEN=$(curl -s -X POST ${gw}/api/v1/auth/dev-token -H 'content-type: application/json' \\
             -d '{"email":"ada@example.com"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).accessToken')
   TOKEN=$TOKEN npm run watch &       # live status updates (or run it in a second terminal)
   curl -s -X POST ${gw}/api/v1/orders -H "authorization: Bearer $TOKEN" \\
        -H 'content-type: application/json' -d '{"items":[{"sku":"MUG-BLUE","quantity":2}],"paymentMethodToken":"pm_card_visa"}'

 Ctrl-C stops the services; npm run stack:down stops PostgreSQL, Redis, Kafka and the registry.
──────────────────────────────────────────────────────────────────────────────
`);

let stopping = false;
async function stop(/** @type {string} */ signal) {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping services…\n`);
  const codes = await stopServices(procs);
  process.stdout.write(
    `stopped: ${Object.entries(codes)
      .map(([n, c]) => `${n} (exit ${c})`)
      .join(', ')}\n`,
  );
  process.exit(Object.values(codes).every((c) => c === 0) ? 0 : 1);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
for (const p of procs) {
  p.exited.then((code) => {
    if (!stopping) {
      process.stderr.write(`${p.def.name} exited unexpectedly (code ${code}); stopping the others\n`);
      void stop('service exit');
    }
  });
}
