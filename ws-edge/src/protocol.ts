/**
 * The `/ws/orders` protocol: JSON text frames.
 *
 * client → edge
 *   { "type": "auth", "token": "<access token>" }   first frame (unless the upgrade carried
 *                                                    `Authorization: Bearer`); again later to refresh
 * edge → client
 *   { "type": "ready", "userId": "...", "expiresAt": <epoch s> }
 *   { "type": "order.status", "seq": n, ... }        a StatusUpdate (contracts/status-feed.ts)
 *   { "type": "error", "code": "...", "message": "..." }
 *
 * Close codes (4000–4999 are the application's):
 *   4400 malformed frames, repeatedly     4401 not authenticated in time, invalid or expired token
 *   4403 forbidden                         1009 frame too large       1012 edge restarting: reconnect
 *   4429 too many connections for this user (limit across all edges), or messages sent too fast
 */
export const CloseCodes = {
  badMessages: 4400,
  unauthenticated: 4401,
  forbidden: 4403,
  rateLimited: 4429,
  tooLarge: 1009,
  restarting: 1012,
} as const;

export type ClientMessage = { type: 'auth'; token: string };

export function parseClientMessage(text: string): ClientMessage | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: 'frames must be JSON' };
  }
  if (typeof value !== 'object' || value === null) return { error: 'frames must be JSON objects' };
  const m = value as { type?: unknown; token?: unknown };
  if (m.type === 'auth') {
    if (typeof m.token !== 'string' || m.token.length > 4096) return { error: 'auth needs a token' };
    return { type: 'auth', token: m.token };
  }
  return { error: `unknown frame type ${JSON.stringify(String(m.type)).slice(0, 40)}` };
}
