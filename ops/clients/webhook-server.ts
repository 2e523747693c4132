/**
 * The receiving end of webhooks for the suites: an HTTP server on loopback (a free port) that hands each
 * delivery's raw body and headers to the suite's handler, and the signature check with `standardwebhooks`,
 * the reference implementation. The end-to-end webhook suite and the fault-injection clients build their
 * receivers on it; what a receiver records and answers stays theirs.
 */
import type { Server } from 'bun';
import { Webhook } from 'standardwebhooks';

/** One delivery as it arrived: the body exactly as sent (the signature covers it) and the headers. */
export interface IncomingWebhook {
  body: string;
  headers: Record<string, string>;
}

/** True when `secret` verifies the delivery (signature, webhook-id and a fresh webhook-timestamp). */
export function verifiesWith(secret: string, delivery: IncomingWebhook): boolean {
  try {
    new Webhook(secret).verify(delivery.body, delivery.headers);
    return true;
  } catch {
    return false;
  }
}

export class WebhookServer {
  private readonly server: Server<undefined>;

  constructor(handle: (delivery: IncomingWebhook) => Response | Promise<Response>) {
    this.server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: async (req) => handle({ body: await req.text(), headers: Object.fromEntries(req.headers) }),
    });
  }

  get url() {
    return `http://127.0.0.1:${this.server.port}/hooks`;
  }

  get port() {
    return this.server.port as number;
  }

  stop() {
    this.server.stop(true);
  }
}
