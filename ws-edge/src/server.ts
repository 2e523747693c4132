/**
 * The WebSocket edge: Bun's native server, one topic per user (`user:<id>`, admins also `admins`).
 * One Redis subscription per process feeds every socket through Bun's topic publish, so the cost of a
 * status update does not depend on how many sockets a process holds.
 */
import { randomUUID } from 'node:crypto';
import {
  bearerToken,
  type ConnectionSlots,
  HttpError,
  type Logger,
  MessageBucket,
  type Metrics,
  type Principal,
  problemResponse,
  type VerifyAccessToken,
} from '@orders/platform';
import type { Server, ServerWebSocket } from 'bun';
import { CloseCodes, parseClientMessage } from './protocol';

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
}

const utf8 = new TextDecoder();

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
}

const MAX_BAD_FRAMES = 5;
const MAX_STRIKES = 3;

function userTopic(userId: string): string {
  return `user:${userId}`;
}
const ADMIN_TOPIC = 'admins';

export function startEdge(o: EdgeOptions) {
  const connections = o.metrics.gauge('ws_connections', 'Open WebSocket connections', ['state']);
  const closes = o.metrics.counter('ws_closes_total', 'WebSocket closes by code', ['code']);
  let draining = false;
  const sockets = new Set<ServerWebSocket<SocketData>>();

  function send(ws: ServerWebSocket<SocketData>, frame: unknown) {
    ws.send(JSON.stringify(frame));
  }

  function close(ws: ServerWebSocket<SocketData>, code: number, reason: string) {
    closes.inc({ code: String(code) });
    ws.close(code, reason);
  }

  const releases = new Set<Promise<void>>();

  function release(ws: ServerWebSocket<SocketData>) {
    const p = ws.data.principal;
    if (!o.slots || !p || !ws.data.slotHeld) return;
    ws.data.slotHeld = false;
    const done = o.slots
      .release(p.userId, ws.data.id)
      .catch((err) => o.logger.warn({ err: (err as Error).message }, 'connection slot not released; it expires'));
    releases.add(done);
    void done.finally(() => releases.delete(done));
  }

  /**
   * Takes one of the user's connection slots (across all edges). Redis unreachable: admitted (fail open),
   * the slot is simply not tracked.
   */
  async function takeSlot(ws: ServerWebSocket<SocketData>, principal: Principal): Promise<boolean> {
    if (!o.slots) return true;
    try {
      const { ok, held } = await o.slots.acquire(principal.userId, ws.data.id);
      if (!ok) {
        close(ws, CloseCodes.rateLimited, `too many connections: ${held} already open for this user`);
        return false;
      }
      ws.data.slotHeld = true;
      return true;
    } catch (err) {
      o.logger.warn({ err: (err as Error).message }, 'connection limit not enforced: Redis unavailable');
      return true;
    }
  }

  /**
   * Authentications of one socket run one after another: two auth frames close together would otherwise
   * both find the socket unauthenticated, take two connection slots and count it twice.
   */
  function admitInOrder(ws: ServerWebSocket<SocketData>, principal: Principal): Promise<void> {
    const next = ws.data.admitting.then(() => admit(ws, principal));
    ws.data.admitting = next.catch(() => {});
    return next;
  }

  /** Authenticates (or re-authenticates) a socket; a refreshed token moves its expiry timer. */
  async function admit(ws: ServerWebSocket<SocketData>, principal: Principal) {
    // The socket may have closed while its token was being verified.
    if (ws.data.closed) return;
    const previous = ws.data.principal;
    if (previous && previous.userId !== principal.userId) {
      close(ws, CloseCodes.forbidden, 'a socket belongs to one user');
      return;
    }
    if (!previous) {
      if (!(await takeSlot(ws, principal))) return;
      if (ws.data.closed) {
        ws.data.principal = principal;
        release(ws);
        return;
      }
    }
    if (ws.data.timer) clearTimeout(ws.data.timer);
    ws.data.principal = principal;
    if (!previous) {
      ws.subscribe(userTopic(principal.userId));
      connections.dec({ state: 'pending' });
      connections.inc({ state: 'authenticated' });
    }
    // The role may change with a refreshed token (an admin demoted): the subscriptions follow it.
    if (principal.role === 'admin') ws.subscribe(ADMIN_TOPIC);
    else if (ws.isSubscribed(ADMIN_TOPIC)) ws.unsubscribe(ADMIN_TOPIC);
    // Close when the token expires unless the client sends a fresh one first.
    const msLeft = principal.expiresAt * 1000 - Date.now();
    ws.data.timer = setTimeout(() => close(ws, CloseCodes.unauthenticated, 'token expired'), Math.max(0, msLeft));
    send(ws, { type: 'ready', userId: principal.userId, expiresAt: principal.expiresAt });
  }

  const server: Server<SocketData> = Bun.serve<SocketData>({
    hostname: o.host,
    port: o.port,
    async fetch(req, srv) {
      const url = new URL(req.url);
      if (url.pathname === '/ws/orders') {
        if (draining)
          return problemResponse(new HttpError(503, 'EDGE_DRAINING', 'Restarting', 'Reconnect to another edge instance.'), url.pathname);
        let principal: Principal | null = null;
        const header = req.headers.get('authorization');
        if (header) {
          try {
            principal = await o.verify(bearerToken(header) ?? 'malformed');
          } catch {
            return problemResponse(
              new HttpError(401, 'AUTH_TOKEN_INVALID', 'Invalid token', 'The access token is not valid.'),
              url.pathname,
            );
          }
        }
        const data: SocketData = {
          principal: null,
          preauth: principal,
          timer: undefined,
          badFrames: 0,
          id: randomUUID(),
          slotHeld: false,
          bucket: new MessageBucket(o.messagesPerSecond),
          strikes: 0,
          admitting: Promise.resolve(),
        };
        if (srv.upgrade(req, { data })) return undefined;
        return problemResponse(
          new HttpError(426, 'UPGRADE_REQUIRED', 'Upgrade required', 'Connect with a WebSocket client.'),
          url.pathname,
        );
      }
      if (url.pathname === '/healthz') return Response.json({ status: 'ok' });
      if (url.pathname === '/readyz') {
        return o.ready() && !draining
          ? Response.json({ status: 'ready' })
          : problemResponse(
              new HttpError(503, 'NOT_READY', 'Not ready', draining ? 'Draining.' : 'Redis subscription is down.'),
              url.pathname,
            );
      }
      if (url.pathname === '/metrics') {
        const { body, contentType } = await o.metrics.render();
        return new Response(body, { headers: { 'content-type': contentType } });
      }
      return problemResponse(
        new HttpError(404, 'ROUTE_NOT_FOUND', 'Not found', `No route for ${req.method} ${url.pathname}.`),
        url.pathname,
      );
    },
    websocket: {
      maxPayloadLength: o.maxMessageBytes,
      idleTimeout: o.idleTimeoutSeconds,
      sendPings: true,
      open(ws) {
        sockets.add(ws);
        connections.inc({ state: 'pending' });
        if (ws.data.preauth) {
          void admitInOrder(ws, ws.data.preauth);
          return;
        }
        ws.data.timer = setTimeout(() => close(ws, CloseCodes.unauthenticated, 'authenticate first'), o.authTimeoutMs);
      },
      async message(ws, raw) {
        if (!ws.data.bucket.take()) {
          ws.data.strikes += 1;
          send(ws, { type: 'error', code: 'RATE_LIMITED', message: `at most ${o.messagesPerSecond} frames per second` });
          if (ws.data.strikes >= MAX_STRIKES) close(ws, CloseCodes.rateLimited, 'sending too fast');
          return;
        }
        ws.data.strikes = 0;
        const text = typeof raw === 'string' ? raw : utf8.decode(raw);
        const msg = parseClientMessage(text);
        if ('error' in msg) {
          ws.data.badFrames += 1;
          send(ws, { type: 'error', code: 'BAD_FRAME', message: msg.error });
          if (ws.data.badFrames >= MAX_BAD_FRAMES) close(ws, CloseCodes.badMessages, 'too many malformed frames');
          return;
        }
        try {
          await admitInOrder(ws, await o.verify(msg.token));
        } catch {
          close(ws, CloseCodes.unauthenticated, 'invalid or expired token');
        }
      },
      close(ws) {
        ws.data.closed = true;
        sockets.delete(ws);
        release(ws);
        if (ws.data.timer) clearTimeout(ws.data.timer);
        connections.dec({ state: ws.data.principal ? 'authenticated' : 'pending' });
      },
    },
  });

  // Live connections keep their slots alive; a dead edge's slots expire after slotTtlMs.
  const { slots } = o;
  const heartbeat =
    slots &&
    setInterval(
      () => {
        const byUser = new Map<string, string[]>();
        for (const ws of sockets) {
          const p = ws.data.principal;
          if (!p || !ws.data.slotHeld) continue;
          const ids = byUser.get(p.userId);
          if (ids) ids.push(ws.data.id);
          else byUser.set(p.userId, [ws.data.id]);
        }
        for (const [userId, ids] of byUser) {
          slots.refresh(userId, ids).catch((err) => o.logger.warn({ err: (err as Error).message }, 'connection slots not refreshed'));
        }
      },
      Math.max(1_000, Math.floor(o.slotTtlMs / 3)),
    );

  return {
    server,
    /** Forwards one feed message (already JSON) to its user's sockets and to admins. */
    deliver(userId: string, json: string) {
      server.publish(userTopic(userId), json);
      server.publish(ADMIN_TOPIC, json);
    },
    /** Stops accepting, tells every client to reconnect elsewhere, closes. */
    async drain() {
      draining = true;
      clearInterval(heartbeat);
      for (const ws of sockets) {
        release(ws);
        close(ws, CloseCodes.restarting, 'edge restarting; reconnect');
      }
      await server.stop(true);
      await Promise.all(releases);
    },
    connectionCount: () => sockets.size,
  };
}
