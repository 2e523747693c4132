/** What the edge is started with (index.ts builds it from env.ts); each part of the edge takes the fields it uses. */
import type { ConnectionSlots, Logger, Metrics, RecoveryResult, TrustedProxies, VerifyAccessToken } from '@orders/platform';

export interface EdgeOptions {
  host: string;
  port: number;
  verify: VerifyAccessToken;
  logger: Logger;
  metrics: Metrics;
  authTimeoutMs: number;
  maxMessageBytes: number;
  idleTimeoutSeconds: number;
  ready: () => boolean;
  /** Connection slots per user across every edge (undefined: no limit). */
  slots?: ConnectionSlots;
  slotTtlMs: number;
  messagesPerSecond: number;
  /** The per-user feed in Redis: where a fresh client starts, and what a resuming one missed. */
  feed: { latest(userId: string): Promise<number>; since(userId: string, after: number): Promise<RecoveryResult> };
  /** A socket whose unsent data passes this many bytes is closed (4408) instead of buffering more. */
  maxBufferedBytes: number;
  /** Sockets one address may hold open before they authenticate (beyond: 429 at the upgrade). */
  maxPendingPerIp: number;
  /** Proxies whose X-Forwarded-For names the client (nginx in front of the edge). */
  trustedProxies: TrustedProxies;
  /** Whether a session was ended (checked again as a socket is admitted, after its slot is taken). */
  isRevoked?: (sessionId: string) => boolean;
}
