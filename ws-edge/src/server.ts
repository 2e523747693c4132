/**
 * The WebSocket edge: Bun's native server, one topic per user (`user:<id>`, admins also `admins`).
 * One Redis subscription per process feeds every socket through Bun's topic publish, so the cost of a
 * status update does not depend on how many sockets a process holds.
 */
import { randomUUID } from 'node:crypto';
import {
  bearerToken,
  type ConnectionSlots,
  clientIp,
  HttpError,
  type Logger,
  MessageBucket,
  type Metrics,
  type Principal,
  problemResponse,
  type RecoveryResult,
  type TrustedProxies,
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
  /** Closed for a full send buffer. */
  slow?: boolean;
  /** The client address, while the socket counts against its address's unauthenticated sockets. */
  pendingIp?: string;
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

const MAX_BAD_FRAMES = 5;
const MAX_STRIKES = 3;
/** How long a slow socket gets to take its close frame before it is cut. */
const SLOW_CLOSE_GRACE_MS = 2_000;

function userTopic(userId: string): string {
  return `user:${userId}`;
}
const ADMIN_TOPIC = 'admins';

export function startEdge(o: EdgeOptions) {
  const connections = o.metrics.gauge('ws_connections', 'Open WebSocket connections', ['state']);
  const closes = o.metrics.counter('ws_closes_total', 'WebSocket closes by code', ['code']);
  const slowClosed = o.metrics.counter('ws_slow_consumers_total', 'Sockets closed for a full send buffer');
  const recoveries = o.metrics.counter('ws_recoveries_total', 'Resume requests by outcome', ['outcome']);
  let draining = false;
  const sockets = new Set<ServerWebSocket<SocketData>>();
  /** Authenticated sockets by user, and admins': whom a delivery may have pushed past their buffer bound. */
  const byUser = new Map<string, Set<ServerWebSocket<SocketData>>>();
  const admins = new Set<ServerWebSocket<SocketData>>();
  /** Sockets not yet authenticated, by client address. */
  const pendingByIp = new Map<string, number>();

  /** The socket no longer counts as unauthenticated (it authenticated, or it closed). */
  function releasePending(ws: ServerWebSocket<SocketData>) {
    const ip = ws.data.pendingIp;
    if (ip === undefined) return;
    ws.data.pendingIp = undefined;
    const n = (pendingByIp.get(ip) ?? 1) - 1;
    if (n <= 0) pendingByIp.delete(ip);
    else pendingByIp.set(ip, n);
  }

  function track(ws: ServerWebSocket<SocketData>, userId: string) {
    const set = byUser.get(userId);
    if (set) set.add(ws);
    else byUser.set(userId, new Set([ws]));
  }

  function untrack(ws: ServerWebSocket<SocketData>) {
    admins.delete(ws);
    const userId = ws.data.principal?.userId;
    const set = userId === undefined ? undefined : byUser.get(userId);
    if (!set || userId === undefined) return;
    set.delete(ws);
    if (set.size === 0) byUser.delete(userId);
  }

  /** Closes a socket that cannot keep up (4408); cut if it does not even take the close frame in time. */
  function checkBuffer(ws: ServerWebSocket<SocketData>) {
    if (ws.data.closed || ws.data.slow || ws.getBufferedAmount() <= o.maxBufferedBytes) return;
    ws.data.slow = true;
    slowClosed.inc();
    close(ws, CloseCodes.slowConsumer, 'too slow: send buffer full; reconnect and resume');
    setTimeout(() => {
      if (!ws.data.closed) ws.terminate();
    }, SLOW_CLOSE_GRACE_MS).unref();
  }

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
      // The acquire may still have landed in Redis after our timeout: give that slot back (or let it expire).
      o.slots.release(principal.userId, ws.data.id).catch(() => {});
      return true;
    }
  }

  /**
   * Authentications of one socket run one after another: two auth frames close together would otherwise
   * both find the socket unauthenticated, take two connection slots and count it twice. Tokens are
   * verified as they come (the promise), admitted in the order they came.
   */
  function admitInOrder(ws: ServerWebSocket<SocketData>, principal: Promise<Principal>): Promise<void> {
    // Handled now, not only when its turn comes: a bad token behind a slow admission would otherwise be
    // an unhandled rejection, and that stops the process.
    principal.catch(() => {});
    const next = ws.data.admitting.then(async () => admit(ws, await principal));
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
    // The session may have ended while the slot was being taken (endSession saw no principal yet).
    if (principal.sessionId !== undefined && o.isRevoked?.(principal.sessionId)) {
      if (!previous) {
        // Give back the slot just taken; the socket stays counted as pending until it closes.
        ws.data.principal = principal;
        release(ws);
        ws.data.principal = null;
      }
      close(ws, CloseCodes.unauthenticated, 'session ended; log in again');
      return;
    }
    if (ws.data.timer) clearTimeout(ws.data.timer);
    ws.data.principal = principal;
    releasePending(ws);
    if (!previous) {
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

  /**
   * Sends a user what they missed after `after` (the socket is subscribed already, so nothing newer is
   * lost in between; a live update may come before the replayed ones), or tells them to re-read.
   */
  async function resume(ws: ServerWebSocket<SocketData>, principal: Principal, after: number) {
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
    for (const u of result.updates) ws.send(JSON.stringify(u));
    const seq = result.updates[result.updates.length - 1]?.seq ?? after;
    send(ws, { type: 'resumed', after, seq, count: result.updates.length });
    checkBuffer(ws);
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
        // Unauthenticated sockets per address are bounded: each holds a timer and memory until its
        // authentication timeout, and 300 of them from one address were all accepted.
        const ip = principal ? undefined : clientIp(req, srv.requestIP(req)?.address, o.trustedProxies);
        if (ip !== undefined && (pendingByIp.get(ip) ?? 0) >= o.maxPendingPerIp) {
          return problemResponse(
            new HttpError(
              429,
              'RATE_LIMITED',
              'Too many requests',
              'Too many unauthenticated sockets from this address; authenticate or close some.',
              {
                headers: { 'retry-after': '5' },
              },
            ),
            url.pathname,
          );
        }
        const data: SocketData = {
          principal: null,
          pendingIp: ip,
          preauth: principal,
          timer: undefined,
          badFrames: 0,
          id: randomUUID(),
          slotHeld: false,
          bucket: new MessageBucket(o.messagesPerSecond),
          strikes: 0,
          admitting: Promise.resolve(),
        };
        if (srv.upgrade(req, { data })) {
          if (ip !== undefined) pendingByIp.set(ip, (pendingByIp.get(ip) ?? 0) + 1);
          return undefined;
        }
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
      // Above our own bound (checked after every delivery), so Bun never drops a frame silently first.
      backpressureLimit: o.maxBufferedBytes * 2 + 64 * 1024,
      closeOnBackpressureLimit: false,
      idleTimeout: o.idleTimeoutSeconds,
      sendPings: true,
      open(ws) {
        sockets.add(ws);
        connections.inc({ state: 'pending' });
        if (ws.data.preauth) {
          void admitInOrder(ws, Promise.resolve(ws.data.preauth));
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
        if (msg.type === 'resume') {
          // After the socket's pending authentications, so a resume sent right behind `auth` works.
          await ws.data.admitting;
          const principal = ws.data.principal;
          if (!principal) send(ws, { type: 'error', code: 'NOT_AUTHENTICATED', message: 'authenticate before resuming' });
          else await resume(ws, principal, msg.after);
          return;
        }
        try {
          await admitInOrder(ws, o.verify(msg.token));
        } catch {
          close(ws, CloseCodes.unauthenticated, 'invalid or expired token');
        }
      },
      close(ws) {
        ws.data.closed = true;
        releasePending(ws);
        sockets.delete(ws);
        untrack(ws);
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
      const own = byUser.get(userId);
      if (own) for (const ws of own) checkBuffer(ws);
      for (const ws of admins) checkBuffer(ws);
    },
    /**
     * The feed subscription was down and is back: what was published meanwhile reached nobody, so
     * every authenticated client is asked to resume from its last sequence.
     */
    feedResumed() {
      let asked = 0;
      for (const ws of sockets) {
        if (!ws.data.principal || ws.data.closed) continue;
        send(ws, { type: 'resume-needed' });
        asked += 1;
      }
      o.logger.warn({ sockets: asked }, 'status feed subscription restored; clients asked to resume');
    },
    /** A session ended (logout, a reused refresh token): its sockets close at once (4401). */
    endSession(sessionId: string) {
      let closed = 0;
      for (const ws of sockets) {
        if (ws.data.closed || ws.data.principal?.sessionId !== sessionId) continue;
        close(ws, CloseCodes.unauthenticated, 'session ended; log in again');
        closed += 1;
      }
      if (closed > 0) o.logger.info({ sockets: closed }, 'sockets of an ended session closed');
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
