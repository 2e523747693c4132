/**
 * The webhook suite's receiver: records every delivery it gets (verified against the secrets it is told)
 * and answers as the test scripts it, per webhook-id and attempt.
 */
import { verifiesWith, WebhookServer } from '../clients/webhook-server';

export interface Received {
  webhookId: string;
  type: string;
  at: number;
  signature: string;
  verified: boolean;
  answered: number;
  traceparent: string;
}

/** A receiver on loopback that verifies signatures with the secrets it is told, and answers as scripted. */
export class Receiver {
  readonly got: Received[] = [];
  secrets: string[] = [];
  /** Status (and headers) for the n-th request (0-based) of a webhook-id. */
  answer: (n: number) => { status: number; headers?: Record<string, string> } = () => ({ status: 204 });
  private readonly server = new WebhookServer((delivery) => {
    const { body, headers } = delivery;
    const webhookId = headers['webhook-id'] ?? '';
    const verified = this.secrets.length > 0 && this.secrets.every((s) => verifiesWith(s, delivery));
    const n = this.got.filter((g) => g.webhookId === webhookId).length;
    const { status, headers: extra } = this.answer(n);
    this.got.push({
      webhookId,
      type: JSON.parse(body).type,
      at: Date.now(),
      signature: headers['webhook-signature'] ?? '',
      verified,
      answered: status,
      traceparent: headers.traceparent ?? '',
    });
    return new Response(status === 204 ? null : `answer ${status}`, { status, headers: extra });
  });

  get url() {
    return this.server.url;
  }
  get port() {
    return this.server.port;
  }
  stop() {
    this.server.stop();
  }
}
