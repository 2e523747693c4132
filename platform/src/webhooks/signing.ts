/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): endpoint secrets are generated here, and
 * every delivery carries `webhook-signature: v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>`,
 * where key is the base64 after `whsec_`; during a secret rotation one signature per valid secret,
 * space-separated.
 */
import { createHmac, randomBytes } from 'node:crypto';

export function generateSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

function keyOf(secret: string): Buffer {
  if (!secret.startsWith('whsec_')) throw new Error('webhook secrets start with whsec_');
  return Buffer.from(secret.slice('whsec_'.length), 'base64');
}

/** The `webhook-signature` header value for a message, one `v1,` signature per secret. */
export function sign(secrets: string[], id: string, timestampSeconds: number, body: string): string {
  return secrets.map((s) => `v1,${createHmac('sha256', keyOf(s)).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`).join(' ');
}
