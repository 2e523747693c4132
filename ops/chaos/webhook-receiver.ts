/**
 * The customers' webhook endpoints during a chaos run: a receiver on loopback (the suites' shared
 * server and signature check, ops/clients/webhook-server.ts) that logs each delivery for the checker,
 * and the registration that gives it its secret.
 */
import { verifiesWith, WebhookServer } from '../clients/webhook-server';
import type { Customer } from './load';
import { urls } from './stack';

export interface Delivery {
  webhookId: string;
  type: string;
  orderId: string;
  verified: boolean;
  answered: number;
  at: number;
}

/** A webhook receiver on loopback: verifies every signature; `failRate` of first tries answer 503. */
export class Receiver {
  readonly got: Delivery[] = [];
  secret = '';
  private readonly server: WebhookServer;
  constructor(private readonly failRate = 0) {
    this.server = new WebhookServer((delivery) => {
      const verified = verifiesWith(this.secret, delivery);
      const webhookId = delivery.headers['webhook-id'] ?? '';
      const first = !this.got.some((g) => g.webhookId === webhookId);
      const answered = !verified ? 401 : first && Math.random() < this.failRate ? 503 : 204;
      const payload = JSON.parse(delivery.body) as { type?: string; data?: { orderId?: string } };
      this.got.push({
        webhookId,
        type: String(payload.type),
        orderId: String(payload.data?.orderId ?? ''),
        verified,
        answered,
        at: Date.now(),
      });
      return new Response(null, { status: answered });
    });
  }
  get url() {
    return this.server.url;
  }
  stop() {
    this.server.stop();
  }
}

/** Registers an endpoint for every order event of the customer; the receiver learns its secret. */
export async function subscribe(c: Customer, r: Receiver): Promise<string> {
  const res = await fetch(`${urls.gateway}/api/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      url: r.url,
      eventTypes: ['order.validated', 'order.rejected', 'order.paid', 'order.failed', 'order.reserved', 'order.shipped', 'order.cancelled'],
    }),
  });
  const json = (await res.json()) as { id: string; secret: string };
  if (res.status !== 201) throw new Error(`webhook endpoint: ${res.status} ${JSON.stringify(json)}`);
  r.secret = json.secret;
  return json.id;
}
