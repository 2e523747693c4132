/**
 * The `/ws/orders` protocol: JSON text frames.
 *
 * client → edge
 *   { "type": "auth", "token": "<access token>" }   first frame (unless the upgrade carried
 *                                                    `Authorization: Bearer`); again later to refresh
 *   { "type": "resume", "after": n }                 after `ready`: send me my updates after seq n
 * edge → client
 *   { "type": "ready", "userId": "...", "expiresAt": <epoch s>, "expiresIn": <s>, "seq": n | null }
 *        `expiresIn`: seconds the token has left by the edge's clock (refresh before it runs out);
 *        `seq`: the user's latest sequence the edge knows (null: unknown, Redis unreachable); live
 *        updates after it follow on this socket, so a fresh client counts from there
 *   { "type": "order.status", "seq": n, ... }        a StatusUpdate (contracts/status-feed.ts)
 *   { "type": "resumed", "after": n, "seq": m, "count": k }
 *        the k updates after n (up to m) came before this frame; live ones may interleave with them
 *   { "type": "resume-needed" }
 *        the edge's feed subscription was interrupted: send `resume` with the last sequence seen
 *   { "type": "resync", "reason": "gap" | "unavailable" }
 *        recovery is impossible (trimmed, expired, lost, or Redis down): re-read through the REST API
 *   { "type": "error", "code": "...", "message": "..." }
 *        `code`: EDGE_BAD_FRAME, EDGE_NOT_AUTHENTICATED or RATE_LIMIT_EXCEEDED (src/error-codes.ts)
 *
 * Sequences are per user (an admin's `admins` feed carries other users' sequences: admins re-read
 * through the REST API after a reconnect). Updates of one user may arrive out of sequence order (two
 * orders moving at once); a client tracks the highest sequence up to which it has seen everything and
 * resumes after that one.
 *
 * Heartbeats: the edge pings every socket (browsers answer by themselves); a socket silent for
 * WS_IDLE_TIMEOUT_SECONDS is closed.
 *
 * Close codes (4000–4999 are the application's):
 *   4400 malformed frames, repeatedly     4401 not authenticated in time, invalid or expired token
 *   4403 forbidden                         4408 too slow: the send buffer passed its bound
 *   4429 too many connections for this user (limit across all edges), or messages sent too fast
 *   1009 frame too large                   1012 edge restarting: reconnect (to any edge) and resume
 */
import type { StatusUpdate } from '@orders/contracts';
import type { EdgeErrorCode } from './error-codes';

export const CloseCodes = {
  badMessages: 4400,
  unauthenticated: 4401,
  forbidden: 4403,
  slowConsumer: 4408,
  rateLimited: 4429,
  tooLarge: 1009,
  restarting: 1012,
} as const;

export type ClientMessage = { type: 'auth'; token: string } | { type: 'resume'; after: number };

export function parseClientMessage(text: string): ClientMessage | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: 'frames must be JSON' };
  }
  if (typeof value !== 'object' || value === null) return { error: 'frames must be JSON objects' };
  const m = value as { type?: unknown; token?: unknown; after?: unknown };
  if (m.type === 'auth') {
    if (typeof m.token !== 'string' || m.token.length > 4096) return { error: 'auth needs a token' };
    return { type: 'auth', token: m.token };
  }
  if (m.type === 'resume') {
    if (typeof m.after !== 'number' || !Number.isSafeInteger(m.after) || m.after < 0)
      return { error: 'resume needs "after": the last sequence seen (an integer ≥ 0)' };
    return { type: 'resume', after: m.after };
  }
  return { error: `unknown frame type ${JSON.stringify(String(m.type)).slice(0, 40)}` };
}

/** Every frame the edge sends; `order.status` frames are the feed's own JSON, passed on as they are. */
export type ServerFrame =
  | { type: 'ready'; userId: string; expiresAt: number; expiresIn: number; seq: number | null }
  | StatusUpdate
  | { type: 'resumed'; after: number; seq: number; count: number }
  | { type: 'resume-needed' }
  | { type: 'resync'; reason: 'gap' | 'unavailable' }
  | { type: 'error'; code: EdgeErrorCode; message: string };

export function encodeServerFrame(frame: ServerFrame): string {
  return JSON.stringify(frame);
}
