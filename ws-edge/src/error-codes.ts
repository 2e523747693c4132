/**
 * The codes the WebSocket edge answers with: the problem+json `code` of its HTTP answers (the upgrade,
 * readiness, unknown routes) and the `code` of `error` frames on a socket. The edge's own are prefixed
 * EDGE_; the generic answers are the platform's, so a client branches on one spelling whichever service
 * answered.
 */
import { PlatformErrorCodes } from '@orders/platform';

export const EdgeErrorCodes = {
  /** A frame that is not one of the protocol's (an `error` frame; 4400 when it keeps happening). */
  badFrame: 'EDGE_BAD_FRAME',
  /** `resume` on a socket that has not authenticated (an `error` frame). */
  notAuthenticated: 'EDGE_NOT_AUTHENTICATED',
  /** `/ws/orders` asked for without a WebSocket upgrade (426). */
  upgradeRequired: 'EDGE_UPGRADE_REQUIRED',
  /** The edge is shutting down (503 at the upgrade): connect to another. */
  draining: 'EDGE_DRAINING',
  /** The upgrade's `Authorization` header carried a token that does not verify (401). */
  tokenInvalid: PlatformErrorCodes.tokenInvalid,
  /** Too many unauthenticated sockets from one address (429 at the upgrade), or frames sent too fast (`error` frame). */
  rateLimited: PlatformErrorCodes.rateLimited,
  notReady: PlatformErrorCodes.notReady,
  routeNotFound: PlatformErrorCodes.routeNotFound,
} as const;

export type EdgeErrorCode = (typeof EdgeErrorCodes)[keyof typeof EdgeErrorCodes];
