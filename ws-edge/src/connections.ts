/**
 * The sockets this edge holds: every open one, the authenticated ones by user and the admins' (whom a
 * delivery may push past their buffer bound), the unauthenticated ones counted per client address, and
 * whether the edge still takes new ones. Also the two ways the edge speaks to a socket: a frame, and a
 * close counted by code.
 */
import { randomUUID } from 'node:crypto';
import { MessageBucket, type Metrics, type Principal } from '@orders/platform';
import type { ServerWebSocket } from 'bun';
import { encodeServerFrame, type ServerFrame } from './protocol';

export interface SocketData {
  principal: Principal | null;
  /** Verified at upgrade from an Authorization header (non-browser clients). */
  preauth: Principal | null;
  timer: ReturnType<typeof setTimeout> | undefined;
  badFrames: number;
  closed?: boolean;
  /** This connection's id in the user's slot set. */
  id: string;
  slotHeld: boolean;
  bucket: MessageBucket;
  /** Consecutive frames refused for speed. */
  strikes: number;
  /** The socket's authentications, one after another (see `admitInOrder`). */
  admitting: Promise<void>;
  /** Closed for a full send buffer. */
  slow?: boolean;
  /** The client address, while the socket counts against its address's unauthenticated sockets. */
  pendingIp?: string;
}

export type EdgeSocket = ServerWebSocket<SocketData>;

/** A socket's state as it is upgraded: `preauth` when the upgrade carried a valid token, `ip` when it did not. */
export function newSocketData(preauth: Principal | null, ip: string | undefined, messagesPerSecond: number): SocketData {
  return {
    principal: null,
    pendingIp: ip,
    preauth,
    timer: undefined,
    badFrames: 0,
    id: randomUUID(),
    slotHeld: false,
    bucket: new MessageBucket(messagesPerSecond),
    strikes: 0,
    admitting: Promise.resolve(),
  };
}

/** Bun topics: every socket of a user subscribes to its user's, admins' sockets also to `admins`. */
export function userTopic(userId: string): string {
  return `user:${userId}`;
}
export const ADMIN_TOPIC = 'admins';

export type SocketRegistry = ReturnType<typeof socketRegistry>;

export function socketRegistry(metrics: Metrics) {
  const connections = metrics.gauge('ws_connections', 'Open WebSocket connections', ['state']);
  const closes = metrics.counter('ws_closes_total', 'WebSocket closes by code', ['code']);
  const all = new Set<EdgeSocket>();
  /** Authenticated sockets by user, and admins': whom a delivery may have pushed past their buffer bound. */
  const byUser = new Map<string, Set<EdgeSocket>>();
  const admins = new Set<EdgeSocket>();
  /** Sockets not yet authenticated, by client address. */
  const pendingByIp = new Map<string, number>();

  /** The socket no longer counts as unauthenticated (it authenticated, or it closed). */
  function releasePending(ws: EdgeSocket) {
    const ip = ws.data.pendingIp;
    if (ip === undefined) return;
    ws.data.pendingIp = undefined;
    const n = (pendingByIp.get(ip) ?? 1) - 1;
    if (n <= 0) pendingByIp.delete(ip);
    else pendingByIp.set(ip, n);
  }

  function track(ws: EdgeSocket, userId: string) {
    const set = byUser.get(userId);
    if (set) set.add(ws);
    else byUser.set(userId, new Set([ws]));
  }

  function untrack(ws: EdgeSocket) {
    admins.delete(ws);
    const userId = ws.data.principal?.userId;
    const set = userId === undefined ? undefined : byUser.get(userId);
    if (!set || userId === undefined) return;
    set.delete(ws);
    if (set.size === 0) byUser.delete(userId);
  }

  return {
    /** Set once the edge shuts down: upgrades are refused (503) and readiness fails. */
    draining: false,
    /** Every open socket, authenticated or not. */
    all: all as ReadonlySet<EdgeSocket>,
    admins: admins as ReadonlySet<EdgeSocket>,
    ofUser: (userId: string): ReadonlySet<EdgeSocket> | undefined => byUser.get(userId),

    send(ws: EdgeSocket, frame: ServerFrame) {
      ws.send(encodeServerFrame(frame));
    },

    close(ws: EdgeSocket, code: number, reason: string) {
      closes.inc({ code: String(code) });
      ws.close(code, reason);
    },

    /** Whether an address already holds as many unauthenticated sockets as it may. */
    pendingFull: (ip: string, max: number) => (pendingByIp.get(ip) ?? 0) >= max,
    /** Counts an upgraded socket that has not authenticated against its address. */
    addPending(ip: string) {
      pendingByIp.set(ip, (pendingByIp.get(ip) ?? 0) + 1);
    },

    opened(ws: EdgeSocket) {
      all.add(ws);
      connections.inc({ state: 'pending' });
    },

    /** An admitted socket joins its user's topic (first admission) and admins' as its role says. */
    admitted(ws: EdgeSocket, principal: Principal, first: boolean) {
      releasePending(ws);
      if (first) {
        ws.subscribe(userTopic(principal.userId));
        track(ws, principal.userId);
        connections.dec({ state: 'pending' });
        connections.inc({ state: 'authenticated' });
      }
      // The role may change with a refreshed token (an admin demoted): the subscriptions follow it.
      if (principal.role === 'admin') {
        ws.subscribe(ADMIN_TOPIC);
        admins.add(ws);
      } else if (ws.isSubscribed(ADMIN_TOPIC)) {
        ws.unsubscribe(ADMIN_TOPIC);
        admins.delete(ws);
      }
    },

    closed(ws: EdgeSocket) {
      releasePending(ws);
      all.delete(ws);
      untrack(ws);
      connections.dec({ state: ws.data.principal ? 'authenticated' : 'pending' });
    },
  };
}
