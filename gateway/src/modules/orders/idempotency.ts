/**
 * `Idempotency-Key` semantics for order creation: the same key with the same body replays the first
 * answer; the same key with another body is refused (422); a key whose first request is still being
 * written answers 409. Keys belong to the user who sent them and are kept at least 24 hours.
 */
import { createHash } from 'node:crypto';
import type { Sql } from '@orders/platform';
import { GatewayErrorCodes } from '../../error-codes';
import { DomainError } from '../../errors';
import type { OrderView } from './model';

/** A canonical hash of a request body: key order and whitespace do not matter. */
export function requestHash(body: unknown): Buffer {
  return createHash('sha256').update(canonicalJson(body)).digest();
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export interface Replay {
  status: number;
  body: OrderView;
}

/** The stored answer for (user, key), checked against this request's body; undefined when the key is new. */
export async function findReplay(sql: Sql, userId: string, key: string, hash: Buffer): Promise<Replay | undefined> {
  const [row] = await sql<{ request_hash: Buffer; response_status: number; response_body: OrderView }[]>`
    SELECT request_hash, response_status, response_body FROM idempotency_keys
    WHERE user_id = ${userId} AND key = ${key} AND expires_at > now()`;
  if (!row) return undefined;
  if (!Buffer.from(row.request_hash).equals(hash)) throw keyMismatch();
  return { status: row.response_status, body: row.response_body };
}

export function keyMismatch(): DomainError {
  return new DomainError(
    'unprocessable',
    GatewayErrorCodes.idempotencyKeyMismatch,
    'Idempotency key reused',
    'This Idempotency-Key was used with a different request body; use a new key for a new request.',
  );
}

export function keyInFlight(): DomainError {
  return new DomainError(
    'conflict',
    GatewayErrorCodes.idempotencyKeyInFlight,
    'Request in progress',
    'A request with this Idempotency-Key is still being processed; retry shortly.',
    { headers: { 'retry-after': '1' } },
  );
}
