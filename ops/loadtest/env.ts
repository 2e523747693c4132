/**
 * The load-test tool's settings from the environment, validated at start (exit 2 naming every bad one).
 * Nothing else under ops/loadtest reads `process.env`: the command line (args.ts) says what to run, these
 * say what the machine provides.
 */
import { ConfigError, optionalStr, parseEnv, url } from '@orders/platform/config/env';
import { stackConfig } from '../local/config.mjs';

const cfg = stackConfig();

export const loadtestSpec = {
  /** An administrator's access token for the scenarios' admin-only set-up (flash-sale SKUs) on targets without dev tokens. */
  ORDERS_ADMIN_TOKEN: { ...optionalStr(), secret: true },
  /** Where consumer lag and limiter series are read from, when a Prometheus answers there. */
  PROMETHEUS_URL: url({ default: `http://${cfg.host}:${cfg.observability.prometheusPort}`, protocols: ['http:', 'https:'] }),
  /** Debian's Chromium, for the screenshot script. */
  CHROMIUM_PATH: optionalStr(),
};

export type LoadtestEnv = ReturnType<typeof loadtestEnv>;

export function loadtestEnv(source: Record<string, string | undefined> = process.env) {
  try {
    return parseEnv(loadtestSpec, source);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`[loadtest] ${err.message}\n`);
    process.exit(2);
  }
}
