/**
 * The orders module's domain errors, one factory each (the Idempotency-Key ones are in
 * `idempotency.ts`, the pricing ones in `pricing.ts`). `plugins/errors.ts` turns them into answers.
 */
import { GatewayErrorCodes } from '../../error-codes';
import { DomainError } from '../../errors';

/** Also for another customer's order: it is indistinguishable from none. */
export const orderNotFound = (id: string) =>
  new DomainError('not_found', GatewayErrorCodes.ordersNotFound, 'Order not found', `No order ${id}.`);

export const ordersBusy = () =>
  new DomainError(
    'unavailable',
    GatewayErrorCodes.ordersBusy,
    'Too busy',
    'Orders are arriving faster than they can be written; retry shortly.',
    {
      headers: { 'retry-after': '1' },
    },
  );

/** A valid token whose account does not exist (deleted, or signed for a user never created). */
export const unknownUser = () =>
  new DomainError('unauthenticated', GatewayErrorCodes.authUnknownUser, 'Unknown user', 'The account behind this token does not exist.');

/** If-Match named another version: the answer carries the current one as its ETag. */
export const versionMismatch = (current: number, ifMatch: number) =>
  new DomainError(
    'precondition_failed',
    GatewayErrorCodes.ordersVersionMismatch,
    'Order changed',
    `The order is at version ${current}, not ${ifMatch}; read it again.`,
    {
      headers: { etag: `"${current}"` },
    },
  );

export const notChangeable = (status: string) =>
  new DomainError(
    'conflict',
    GatewayErrorCodes.ordersNotChangeable,
    'Order can no longer change',
    `The order is ${status}; only pending orders can change.`,
  );

export const notCancellable = (status: string) =>
  new DomainError(
    'conflict',
    GatewayErrorCodes.ordersNotCancellable,
    'Order cannot be cancelled',
    status === 'shipped' ? 'The order has shipped.' : `The order is already ${status}.`,
  );
