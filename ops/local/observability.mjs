#!/usr/bin/env node
// @ts-check
/**
 * The observability backends of the local stack, on demand (#17):
 *
 *   npm run observability -- up       Prometheus (scraping every local service, the project's alert rules)
 *                                     and Jaeger (OTLP in, its query API out), installed or built when missing
 *                                     (`up prometheus` or `up jaeger`: just that one)
 *   npm run observability -- down     stop both
 *   npm run observability -- status   what answers where
 *
 * The services export traces only when OTEL_EXPORTER_OTLP_ENDPOINT is set (`npm start` sets it when Jaeger
 * is up). Loopback only. Ports: ops/local/config.mjs (`observability`).
 */
import * as jaeger from './components/jaeger.mjs';
import * as prometheus from './components/prometheus.mjs';
import { stackConfig } from './config.mjs';
import { log } from './lib/proc.mjs';

/** @typedef {'prometheus' | 'jaeger'} Backend */

/**
 * `only`: start just these backends (the telemetry suite starts what its selected files need); the
 * URLs of the others are undefined.
 * @param {import('./config.mjs').StackConfig} [cfg] @param {{ test?: boolean, only?: Backend[] }} [opts]
 */
export async function up(cfg = stackConfig(), opts = {}) {
  const wanted = (/** @type {Backend} */ b) => !opts.only || opts.only.includes(b);
  const [prom, jae] = await Promise.all([
    wanted('prometheus') ? prometheus.up(cfg, { test: opts.test }) : undefined,
    wanted('jaeger') ? jaeger.up(cfg, { test: opts.test }) : undefined,
  ]);
  log([prom && `Prometheus ${prom.url}`, jae && `Jaeger ${jae.url} (OTLP ${jae.otlpUrl})`].filter(Boolean).join(' · '));
  return { prometheusUrl: prom?.url, jaegerUrl: jae?.url, otlpUrl: jae?.otlpUrl };
}

/** @param {import('./config.mjs').StackConfig} [cfg] @param {{ only?: Backend[] }} [opts] */
export async function down(cfg = stackConfig(), opts = {}) {
  const wanted = (/** @type {Backend} */ b) => !opts.only || opts.only.includes(b);
  const [p, j] = await Promise.all([wanted('prometheus') && prometheus.down(cfg), wanted('jaeger') && jaeger.down(cfg)]);
  log(`stopped: ${[p && 'prometheus', j && 'jaeger'].filter(Boolean).join(', ') || 'nothing was running'}`);
}

/** @param {import('./config.mjs').StackConfig} [cfg] */
export async function status(cfg = stackConfig()) {
  process.stdout.write(`${'prometheus'.padEnd(14)} ${await prometheus.status(cfg)}\n`);
  process.stdout.write(`${'jaeger'.padEnd(14)} ${await jaeger.status(cfg)}\n`);
}

const commands = { up, down, status };

if (import.meta.url === `file://${process.argv[1]}`) {
  const name = process.argv[2] ?? 'up';
  const cmd = /** @type {Record<string, () => Promise<unknown>>} */ (commands)[name];
  if (!cmd) {
    process.stderr.write(`usage: observability.mjs ${Object.keys(commands).join('|')}\n`);
    process.exit(2);
  }
  // `up prometheus`: just the backends named.
  const only = process.argv.slice(3);
  const unknown = only.filter((b) => b !== 'prometheus' && b !== 'jaeger');
  if (unknown.length > 0 || (only.length > 0 && name !== 'up')) {
    process.stderr.write('usage: observability.mjs up [prometheus] [jaeger] | down | status\n');
    process.exit(2);
  }
  (name === 'up' && only.length > 0 ? up(stackConfig(), { only: /** @type {Backend[]} */ (only) }) : cmd()).then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`[observability] ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
