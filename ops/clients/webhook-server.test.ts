/** The shared webhook receiver's server and signature check, against the reference implementation's signer. */
import { afterAll, describe, expect, test } from 'bun:test';
import { Webhook } from 'standardwebhooks';
import { type IncomingWebhook, verifiesWith, WebhookServer } from './webhook-server';

const secret = `whsec_${Buffer.from('a secret of enough bytes').toString('base64')}`;
const got: IncomingWebhook[] = [];
const server = new WebhookServer((delivery) => {
  got.push(delivery);
  return new Response(null, { status: verifiesWith(secret, delivery) ? 204 : 401 });
});
afterAll(() => server.stop());

function send(body: string, signWith: string) {
  const id = `msg_${crypto.randomUUID()}`;
  const timestamp = new Date();
  const signature = new Webhook(signWith).sign(id, timestamp, body);
  return fetch(server.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': signature,
    },
    body,
  });
}

describe('WebhookServer', () => {
  test('hands the raw body and headers to the handler; verifiesWith accepts the right secret only', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/hooks`);
    const body = JSON.stringify({ type: 'webhook.test', data: {} });
    expect((await send(body, secret)).status).toBe(204);
    const other = `whsec_${Buffer.from('another secret of enough bytes').toString('base64')}`;
    expect((await send(body, other)).status).toBe(401);
    expect(got.map((d) => d.body)).toEqual([body, body]);
    expect(got[0]?.headers['webhook-id']).toStartWith('msg_');
    expect(verifiesWith('', got[0] as IncomingWebhook)).toBe(false);
  });
});
