/**
 * The measured requests' HTTP client: node:http(s) with a keep-alive pool whose only bound is the one the
 * engine sets. Bun's fetch queues everything past 256 requests in flight inside the client, where the
 * wait would pass for the server's; node:http opens what it is asked to, and can send from a chosen local
 * address (the abuse scenario's attackers come from addresses of their own on loopback).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Keep the answer's body (it is drained unread otherwise). */
  wantBody?: boolean;
}

export type HttpResult =
  | { ok: true; status: number; headers: IncomingHttpHeaders; body: string }
  | { ok: false; kind: 'timeout' | 'error'; message: string };

export interface HttpClient {
  send(req: HttpRequest): Promise<HttpResult>;
  close(): void;
}

/** Answer bodies kept are cut here: the scenarios read ids and small documents, never pages of data. */
const MAX_BODY_BYTES = 256 * 1024;

export function httpClient(baseUrl: string, opts: { maxSockets: number; timeoutMs: number; localAddress?: string }): HttpClient {
  const base = new URL(baseUrl);
  const https = base.protocol === 'https:';
  const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets, localAddress: opts.localAddress };
  const agent = https ? new HttpsAgent(agentOpts) : new HttpAgent(agentOpts);
  const request = https ? httpsRequest : httpRequest;
  const prefix = base.pathname.replace(/\/$/, '');
  return {
    send(req) {
      return new Promise<HttpResult>((resolve) => {
        let settled = false;
        const settle = (r: HttpResult) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(r);
        };
        const headers: Record<string, string> = { ...req.headers };
        if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
        const r = request(
          {
            agent,
            protocol: base.protocol,
            host: base.hostname,
            port: base.port,
            method: req.method,
            path: prefix + req.path,
            headers,
            localAddress: opts.localAddress,
          },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (c: Buffer) => {
              if (req.wantBody && size < MAX_BODY_BYTES) {
                chunks.push(c);
                size += c.length;
              }
            });
            res.on('end', () =>
              settle({ ok: true, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
            );
            res.on('error', (err) => settle({ ok: false, kind: 'error', message: err.message }));
          },
        );
        const timer = setTimeout(() => {
          settle({ ok: false, kind: 'timeout', message: `no answer within ${opts.timeoutMs} ms` });
          r.destroy();
        }, opts.timeoutMs);
        r.on('error', (err) => settle({ ok: false, kind: 'error', message: err.message }));
        r.end(req.body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}
