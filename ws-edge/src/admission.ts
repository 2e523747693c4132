/**
 * Admitting a socket: its token (the first frame, or the upgrade's header) admitted in order, one of the
 * user's connection slots taken, the session checked again, its topics joined, and the `ready` frame.
 * Owns the two timers that close a socket: no token in time, and the token's expiry (moved by a fresh
 * one). Ends the sockets of a session that ended elsewhere.
 */
import type { Principal } from '@orders/platform';
import type { EdgeSocket, SocketRegistry } from './connections';
import type { EdgeOptions } from './options';
import { CloseCodes } from './protocol';
import type { EdgeSlots } from './slots';

export type Admission = ReturnType<typeof admission>;

export function admission(
  o: Pick<EdgeOptions, 'authTimeoutMs' | 'feed' | 'isRevoked' | 'logger'>,
  sockets: SocketRegistry,
  slots: EdgeSlots,
) {
  const { close, send } = sockets;

  /**
   * Authentications of one socket run one after another: two auth frames close together would otherwise
   * both find the socket unauthenticated, take two connection slots and count it twice. Tokens are
   * verified as they come (the promise), admitted in the order they came.
   */
  function admitInOrder(ws: EdgeSocket, principal: Promise<Principal>): Promise<void> {
    // Handled now, not only when its turn comes: a bad token behind a slow admission would otherwise be
    // an unhandled rejection, and that stops the process.
    principal.catch(() => {});
    const next = ws.data.admitting.then(async () => admit(ws, await principal));
    ws.data.admitting = next.catch(() => {});
    return next;
  }

  /** Authenticates (or re-authenticates) a socket; a refreshed token moves its expiry timer. */
  async function admit(ws: EdgeSocket, principal: Principal) {
    // The socket may have closed while its token was being verified.
    if (ws.data.closed) return;
    const previous = ws.data.principal;
    if (previous && previous.userId !== principal.userId) {
      close(ws, CloseCodes.forbidden, 'a socket belongs to one user');
      return;
    }
    if (!previous) {
      if (!(await slots.take(ws, principal))) return;
      if (ws.data.closed) {
        ws.data.principal = principal;
        slots.release(ws);
        return;
      }
    }
    // The session may have ended while the slot was being taken (endSession saw no principal yet).
    if (principal.sessionId !== undefined && o.isRevoked?.(principal.sessionId)) {
      if (!previous) {
        // Give back the slot just taken; the socket stays counted as pending until it closes.
        ws.data.principal = principal;
        slots.release(ws);
        ws.data.principal = null;
      }
      close(ws, CloseCodes.unauthenticated, 'session ended; log in again');
      return;
    }
    if (ws.data.timer) clearTimeout(ws.data.timer);
    ws.data.principal = principal;
    sockets.admitted(ws, principal, !previous);
    // Close when the token expires unless the client sends a fresh one first.
    const msLeft = principal.expiresAt * 1000 - Date.now();
    ws.data.timer = setTimeout(() => close(ws, CloseCodes.unauthenticated, 'token expired'), Math.max(0, msLeft));
    // Read after subscribing: anything newer than this sequence reaches the socket live.
    const seq = await o.feed.latest(principal.userId).catch(() => null);
    if (ws.data.closed) return;
    // expiresIn (seconds, by the edge's clock) lets a client with a skewed clock still refresh in time.
    const expiresIn = Math.max(0, principal.expiresAt - Math.floor(Date.now() / 1000));
    send(ws, { type: 'ready', userId: principal.userId, expiresAt: principal.expiresAt, expiresIn, seq });
  }

  return {
    admitInOrder,

    /** A socket just opened: admitted at once when the upgrade carried a token, else given authTimeoutMs to send one. */
    opened(ws: EdgeSocket) {
      if (ws.data.preauth) {
        void admitInOrder(ws, Promise.resolve(ws.data.preauth));
        return;
      }
      ws.data.timer = setTimeout(() => close(ws, CloseCodes.unauthenticated, 'authenticate first'), o.authTimeoutMs);
    },

    /** A session ended (logout, a reused refresh token): its sockets close at once (4401). */
    endSession(sessionId: string) {
      let closed = 0;
      for (const ws of sockets.all) {
        if (ws.data.closed || ws.data.principal?.sessionId !== sessionId) continue;
        close(ws, CloseCodes.unauthenticated, 'session ended; log in again');
        closed += 1;
      }
      if (closed > 0) o.logger.info({ sockets: closed }, 'sockets of an ended session closed');
    },
  };
}
