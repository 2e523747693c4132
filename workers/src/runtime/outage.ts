/**
 * Whether a failure is an outage of something the stage depends on (the database, the payment provider
 * refusing or dropping connections) rather than something about the event. An outage is never the
 * event's fault: the batch is tried again in place, with backoff, until the dependency is back, instead
 * of spending the events' retries, which an outage longer than the retry schedule (about 10 s at the
 * defaults) would exhaust into the dead-letter topic, leaving their orders stuck for good. The fault-
 * injection suite found exactly that (a PostgreSQL crash and a partition from it).
 */
import { isDatabaseUnavailable } from '@orders/platform';

/** Socket-level failures to reach a peer: the connection was refused, reset or could not be made. */
const CONNECTION_FAILURES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND']);

export function isOutage(err: unknown): boolean {
  if (isDatabaseUnavailable(err)) return true;
  // A client's own error wrapping the socket's (the payment provider client does): look one level down.
  const cause = typeof err === 'object' && err !== null && 'cause' in err ? (err as { cause: unknown }).cause : undefined;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? (cause as { code: unknown }).code : undefined;
  return typeof code === 'string' && CONNECTION_FAILURES.has(code);
}
