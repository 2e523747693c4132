/** The WebSocket edge's configuration, parsed once at start-up. Nothing else reads `process.env`. */
import {
  ConfigError,
  clientFacingSpec,
  commonSpec,
  fromInlineOrFile,
  int,
  jwtVerifySpec,
  listenSpec,
  loadRateLimitPolicy,
  parseEnv,
  parseTrustedProxies,
  redisSpec,
} from '@orders/platform';

const spec = {
  ...commonSpec,
  ...listenSpec(8090),
  ...redisSpec,
  ...jwtVerifySpec,
  /** A socket that has not authenticated within this time is closed (4401). */
  WS_AUTH_TIMEOUT_MS: int({ default: 5_000, min: 100 }),
  /** Largest client frame accepted; clients only ever send small control messages. */
  WS_MAX_MESSAGE_BYTES: int({ default: 16 * 1024, min: 256 }),
  WS_IDLE_TIMEOUT_SECONDS: int({ default: 60, min: 5, max: 960 }),
  /** A socket whose unsent data passes this bound is closed (4408): a slow client never grows memory. */
  WS_MAX_BUFFERED_BYTES: int({ default: 1024 * 1024, min: 16 * 1024 }),
  /** Sockets one client address may hold before they authenticate; more are refused (429) at the upgrade. */
  WS_MAX_PENDING_PER_IP: int({ default: 10, min: 1, max: 10_000 }),
  // TRUSTED_PROXIES, as for the gateway; RATE_LIMIT_ENABLED switches the connection and message limits
  // (RATE_LIMIT_WS_*, RATE_LIMITS_FILE), off only for experiments.
  ...clientFacingSpec,
};

export function loadEnv(source: Record<string, string | undefined>) {
  const env = parseEnv(spec, source);
  const problems: string[] = [];
  const jwtPublicKeys = fromInlineOrFile(env.JWT_PUBLIC_KEYS, env.JWT_PUBLIC_KEYS_FILE, 'JWT_PUBLIC_KEYS', problems);
  const trustedProxies = parseTrustedProxies(env.TRUSTED_PROXIES, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...env, jwtPublicKeys, rateLimits: loadRateLimitPolicy(source), trustedProxies };
}

export type EdgeEnv = ReturnType<typeof loadEnv>;
