/**
 * Opaque keyset cursors: the (created_at, id) of the last row of a page, base64url-encoded. Clients
 * pass them back untouched; a cursor that does not decode is a validation error, not a 500.
 */
import { GatewayErrorCodes } from '../../error-codes';
import { DomainError } from '../../errors';

export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), id])).toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const createdAt = new Date(at);
    if (Number.isNaN(createdAt.getTime()) || typeof id !== 'string' || !UUID.test(id)) throw new Error('bad cursor');
    return { createdAt, id };
  } catch {
    throw new DomainError(
      'bad_request',
      GatewayErrorCodes.ordersBadCursor,
      'Invalid cursor',
      'Pass back the nextCursor of a previous page unchanged.',
    );
  }
}
