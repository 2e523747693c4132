/**
 * An endpoint's delivery options (#18) beyond what its schema checks: the custom headers (names the
 * dispatcher owns refused, names equal but for case, the total size; stored lower-case and sealed) and
 * the per-endpoint rate limit's range. Also how the headers read back: the owner gets names and values
 * (their own data, which the portal edits); an admin reading another user's endpoint gets the names
 * only, since a value may be a credential for the customer's receiver. A set that cannot be opened (its
 * key left the ring, a damaged row) reads back empty and flagged, so the endpoint stays readable and the
 * owner can set the headers again.
 */
import type { FieldError, Logger, Principal, SecretBox } from '@orders/platform';
import {
  CUSTOM_HEADER_LIMITS,
  customHeadersSize,
  isReservedHeaderName,
  openCustomHeaders,
  sealCustomHeaders,
} from '@orders/platform/webhooks/custom-headers';
import { type GatewayErrorCode, GatewayErrorCodes } from '../../error-codes';
import { DomainError } from '../../errors';
import type { EndpointView } from './model';
import type { EndpointRow } from './rows';

/** What a create or update asks for; `undefined`: not given (an update keeps the stored value). */
export interface OptionsInput {
  headers?: Record<string, string>;
  rateLimitPerSecond?: number | null;
}

/** Checked and ready to store: the headers sealed (`null` for none). */
export interface CheckedOptions {
  headersSealed?: string | null;
  rateLimitPerSecond?: number | null;
}

const RATE_LIMIT = { min: 1, max: 1_000 };

/** Every problem at once, in one 422: the first problem's code, every field named (never a value). */
export function checkOptions(box: SecretBox, input: OptionsInput): CheckedOptions {
  const problems: (FieldError & { code: GatewayErrorCode })[] = [];
  const out: CheckedOptions = {};
  if (input.headers !== undefined) {
    // A Map: names such as `__proto__` or `constructor` are names like any other.
    const normalized = new Map<string, string>();
    for (const [name, value] of Object.entries(input.headers)) {
      const lower = name.toLowerCase();
      const field = `/headers/${lower}`;
      if (isReservedHeaderName(lower))
        problems.push({
          field,
          code: GatewayErrorCodes.webhookHeaderRefused,
          message: 'is set by the dispatcher and cannot be overridden',
        });
      else if (normalized.has(lower))
        problems.push({
          field,
          code: GatewayErrorCodes.webhookHeadersInvalid,
          message: 'is given twice (names are compared ignoring case)',
        });
      else normalized.set(lower, value);
    }
    if (customHeadersSize(input.headers) > CUSTOM_HEADER_LIMITS.maxTotalBytes)
      problems.push({
        field: '/headers',
        code: GatewayErrorCodes.webhookHeadersInvalid,
        message: `names and values together exceed ${CUSTOM_HEADER_LIMITS.maxTotalBytes} bytes`,
      });
    if (problems.length === 0) {
      const sorted = Object.fromEntries([...normalized].sort(([a], [b]) => (a < b ? -1 : 1)));
      out.headersSealed = sealCustomHeaders(box, sorted);
    }
  }
  const rate = input.rateLimitPerSecond;
  if (rate !== undefined) {
    if (rate !== null && (!Number.isInteger(rate) || rate < RATE_LIMIT.min || rate > RATE_LIMIT.max))
      problems.push({
        field: '/rateLimitPerSecond',
        code: GatewayErrorCodes.webhookRateLimitInvalid,
        message: `must be an integer from ${RATE_LIMIT.min} to ${RATE_LIMIT.max}, or null for unlimited`,
      });
    out.rateLimitPerSecond = rate;
  }
  const [first] = problems;
  if (first)
    throw new DomainError('unprocessable', first.code, 'Delivery options refused', `${problems.length} delivery option(s) refused.`, {
      errors: problems.map(({ field, message }) => ({ field, message })),
    });
  return out;
}

export type HeadersView = Pick<EndpointView, 'headers' | 'headersUnreadable'>;

/** The headers as `principal` may read them back (see the module header). */
export function viewHeaders(box: SecretBox, principal: Principal, row: EndpointRow, logger: Logger): HeadersView {
  let headers: Record<string, string>;
  try {
    headers = openCustomHeaders(box, row.headers_sealed);
  } catch (err) {
    // The endpoint id and the reason only: never the sealed or opened value.
    logger.warn({ endpointId: row.id, reason: err instanceof Error ? err.message : String(err) }, 'custom headers cannot be opened');
    return { headers: {}, headersUnreadable: true };
  }
  if (principal.userId === row.user_id) return { headers };
  return { headers: Object.fromEntries(Object.keys(headers).map((name) => [name, null])) };
}
