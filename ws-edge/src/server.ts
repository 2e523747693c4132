/**
 * The WebSocket edge: Bun's native server, one topic per user (`user:<id>`, admins also `admins`).
 * One Redis subscription per process feeds every socket through Bun's topic publish, so the cost of a
 * status update does not depend on how many sockets a process holds. This file only wires the parts:
 * connections.ts (the sockets held), routes.ts (HTTP and the upgrade), socket.ts (a socket's frames),
 * admission.ts (tokens and their timers), slots.ts (per-user limits across edges), delivery.ts (live
 * and replayed updates, the send-buffer bound); shutdown.ts drains it.
 */
import type { Server } from 'bun';
import { admission } from './admission';
import { type SocketData, socketRegistry } from './connections';
import { delivery } from './delivery';
import type { EdgeOptions } from './options';
import { edgeRoutes } from './routes';
import { edgeSlots } from './slots';
import { socketHandlers } from './socket';

export type { SocketData } from './connections';
export type { EdgeOptions } from './options';

export type Edge = ReturnType<typeof startEdge>;

export function startEdge(o: EdgeOptions) {
  const sockets = socketRegistry(o.metrics);
  const slots = edgeSlots(o, sockets);
  const updates = delivery(o, sockets);
  const admissions = admission(o, sockets, slots);

  const server: Server<SocketData> = Bun.serve<SocketData>({
    hostname: o.host,
    port: o.port,
    fetch: edgeRoutes(o, sockets),
    websocket: socketHandlers(o, { sockets, slots, admission: admissions, delivery: updates }),
  });
  slots.startHeartbeat();

  return {
    server,
    /** For the drain (shutdown.ts): the sockets to say goodbye to, the slots to give back. */
    sockets,
    slots,
    /** Forwards one feed message (already JSON) to its user's sockets and to admins. */
    deliver: (userId: string, json: string) => updates.deliver(server, userId, json),
    feedResumed: updates.feedResumed,
    endSession: admissions.endSession,
    connectionCount: () => sockets.all.size,
  };
}
