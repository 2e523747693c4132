/**
 * The edge's HTTP side: the `/ws/orders` upgrade (refused while draining, an `Authorization` token
 * verified, unauthenticated sockets per address bounded), `/healthz`, `/readyz`, `/metrics`, and
 * problem+json for anything else.
 */
import { bearerToken, clientIp, HttpError, type Principal, problemResponse } from '@orders/platform';
import type { Server } from 'bun';
import { newSocketData, type SocketData, type SocketRegistry } from './connections';
import { EdgeErrorCodes } from './error-codes';
import type { EdgeOptions } from './options';

type Options = Pick<EdgeOptions, 'verify' | 'maxPendingPerIp' | 'trustedProxies' | 'messagesPerSecond' | 'ready' | 'metrics'>;

export function edgeRoutes(o: Options, sockets: SocketRegistry) {
  async function upgrade(req: Request, srv: Server<SocketData>, path: string): Promise<Response | undefined> {
    if (sockets.draining)
      return problemResponse(new HttpError(503, EdgeErrorCodes.draining, 'Restarting', 'Reconnect to another edge instance.'), path);
    let principal: Principal | null = null;
    const header = req.headers.get('authorization');
    if (header) {
      try {
        principal = await o.verify(bearerToken(header) ?? 'malformed');
      } catch {
        return problemResponse(new HttpError(401, EdgeErrorCodes.tokenInvalid, 'Invalid token', 'The access token is not valid.'), path);
      }
    }
    // Unauthenticated sockets per address are bounded: each holds a timer and memory until its
    // authentication timeout, and 300 of them from one address were all accepted.
    const ip = principal ? undefined : clientIp(req, srv.requestIP(req)?.address, o.trustedProxies);
    if (ip !== undefined && sockets.pendingFull(ip, o.maxPendingPerIp)) {
      return problemResponse(
        new HttpError(
          429,
          EdgeErrorCodes.rateLimited,
          'Too many requests',
          'Too many unauthenticated sockets from this address; authenticate or close some.',
          {
            headers: { 'retry-after': '5' },
          },
        ),
        path,
      );
    }
    if (srv.upgrade(req, { data: newSocketData(principal, ip, o.messagesPerSecond) })) {
      if (ip !== undefined) sockets.addPending(ip);
      return undefined;
    }
    return problemResponse(
      new HttpError(426, EdgeErrorCodes.upgradeRequired, 'Upgrade required', 'Connect with a WebSocket client.'),
      path,
    );
  }

  return async function fetch(req: Request, srv: Server<SocketData>): Promise<Response | undefined> {
    const url = new URL(req.url);
    if (url.pathname === '/ws/orders') return upgrade(req, srv, url.pathname);
    if (url.pathname === '/healthz') return Response.json({ status: 'ok' });
    if (url.pathname === '/readyz') {
      return o.ready() && !sockets.draining
        ? Response.json({ status: 'ready' })
        : problemResponse(
            new HttpError(503, EdgeErrorCodes.notReady, 'Not ready', sockets.draining ? 'Draining.' : 'Redis subscription is down.'),
            url.pathname,
          );
    }
    if (url.pathname === '/metrics') {
      const { body, contentType } = await o.metrics.render();
      return new Response(body, { headers: { 'content-type': contentType } });
    }
    return problemResponse(
      new HttpError(404, EdgeErrorCodes.routeNotFound, 'Not found', `No route for ${req.method} ${url.pathname}.`),
      url.pathname,
    );
  };
}
