/**
 * Getting status updates to sockets: live ones through Bun's topic publish, missed ones replayed on
 * `resume`, and the bound on what a socket may leave unread (a socket past it is closed 4408 rather than
 * grow the edge's memory).
 */
import type { Principal, RecoveryResult } from '@orders/platform';
import type { Server } from 'bun';
import { ADMIN_TOPIC, type EdgeSocket, type SocketData, type SocketRegistry, userTopic } from './connections';
import type { EdgeOptions } from './options';
import { CloseCodes, encodeServerFrame } from './protocol';

/** How long a slow socket gets to take its close frame before it is cut. */
const SLOW_CLOSE_GRACE_MS = 2_000;

export type Delivery = ReturnType<typeof delivery>;

export function delivery(o: Pick<EdgeOptions, 'metrics' | 'logger' | 'feed' | 'maxBufferedBytes'>, sockets: SocketRegistry) {
  const slowClosed = o.metrics.counter('ws_slow_consumers_total', 'Sockets closed for a full send buffer');
  const recoveries = o.metrics.counter('ws_recoveries_total', 'Resume requests by outcome', ['outcome']);
  const { send } = sockets;

  /** Closes a socket that cannot keep up (4408); cut if it does not even take the close frame in time. */
  function checkBuffer(ws: EdgeSocket) {
    if (ws.data.closed || ws.data.slow || ws.getBufferedAmount() <= o.maxBufferedBytes) return;
    ws.data.slow = true;
    slowClosed.inc();
    sockets.close(ws, CloseCodes.slowConsumer, 'too slow: send buffer full; reconnect and resume');
    setTimeout(() => {
      if (!ws.data.closed) ws.terminate();
    }, SLOW_CLOSE_GRACE_MS).unref();
  }

  return {
    /** Forwards one feed message (already JSON) to its user's sockets and to admins. */
    deliver(server: Server<SocketData>, userId: string, json: string) {
      server.publish(userTopic(userId), json);
      server.publish(ADMIN_TOPIC, json);
      const own = sockets.ofUser(userId);
      if (own) for (const ws of own) checkBuffer(ws);
      for (const ws of sockets.admins) checkBuffer(ws);
    },

    /**
     * Sends a user what they missed after `after` (the socket is subscribed already, so nothing newer is
     * lost in between; a live update may come before the replayed ones), or tells them to re-read.
     */
    async resume(ws: EdgeSocket, principal: Principal, after: number) {
      let result: RecoveryResult;
      try {
        result = await o.feed.since(principal.userId, after);
      } catch (err) {
        o.logger.warn({ err: (err as Error).message }, 'recovery read failed');
        recoveries.inc({ outcome: 'unavailable' });
        if (!ws.data.closed) send(ws, { type: 'resync', reason: 'unavailable' });
        return;
      }
      if (ws.data.closed) return;
      if (!result.ok) {
        recoveries.inc({ outcome: result.reason });
        send(ws, { type: 'resync', reason: result.reason });
        return;
      }
      recoveries.inc({ outcome: 'resumed' });
      for (const u of result.updates) ws.send(encodeServerFrame(u));
      const seq = result.updates[result.updates.length - 1]?.seq ?? after;
      send(ws, { type: 'resumed', after, seq, count: result.updates.length });
      checkBuffer(ws);
    },

    /**
     * The feed subscription was down and is back: what was published meanwhile reached nobody, so
     * every authenticated client is asked to resume from its last sequence.
     */
    feedResumed() {
      let asked = 0;
      for (const ws of sockets.all) {
        if (!ws.data.principal || ws.data.closed) continue;
        send(ws, { type: 'resume-needed' });
        asked += 1;
      }
      o.logger.warn({ sockets: asked }, 'status feed subscription restored; clients asked to resume');
    },
  };
}
