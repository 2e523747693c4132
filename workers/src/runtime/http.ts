/**
 * The workers' small HTTP side: `/healthz` (alive), `/readyz` (every stage connected and assigned
 * partitions), `/metrics` (Prometheus). Loopback by default.
 */
import { createServer, type Server } from 'node:http';
import { HttpError, type Metrics, PlatformErrorCodes, PROBLEM_CONTENT_TYPE, toProblem } from '@orders/platform';

export function startHttp(opts: { host: string; port: number; metrics: Metrics; ready: () => Record<string, boolean> }): Promise<Server> {
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (path === '/readyz') {
      const checks = opts.ready();
      const ok = Object.values(checks).every(Boolean);
      res
        .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: ok ? 'ready' : 'not ready', checks }));
    } else if (path === '/metrics') {
      const { body, contentType } = await opts.metrics.render();
      res.writeHead(200, { 'content-type': contentType }).end(body);
    } else {
      const problem = toProblem(new HttpError(404, PlatformErrorCodes.routeNotFound, 'Not found', `${path} is not served here.`), path);
      res.writeHead(404, { 'content-type': PROBLEM_CONTENT_TYPE }).end(JSON.stringify(problem));
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve(server));
  });
}
