/**
 * Custom headers of a webhook endpoint (#18), the rules the gateway (registration) and the dispatcher
 * (delivery) share: which names and values are allowed, which names are never the customer's to set,
 * and how the set is stored (sealed with the endpoint secret's SecretBox: values may be credentials
 * for the customer's receiver). Imported as `@orders/platform/webhooks/custom-headers`.
 */
import type { SecretBox } from './secrets';

export const CUSTOM_HEADER_LIMITS = {
  maxCount: 20,
  maxNameLength: 64,
  maxValueLength: 1_024,
  /** Names plus values, all of them (ASCII: characters are bytes). */
  maxTotalBytes: 8_192,
} as const;

/** An RFC 9110 token (§5.6.2) of 1–64 characters. */
export const HEADER_NAME_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$";
/**
 * RFC 9110 field content (§5.5): visible ASCII, with spaces and tabs inside but not at either end (a
 * receiver strips those, so a value with them would not arrive as stored). No CR, LF, NUL or other control.
 */
export const HEADER_VALUE_PATTERN = '^[\\x21-\\x7E](?:[\\t\\x20-\\x7E]*[\\x21-\\x7E])?$';

const NAME = new RegExp(HEADER_NAME_PATTERN);
const VALUE = new RegExp(HEADER_VALUE_PATTERN);

/**
 * Names the dispatcher owns: the Standard Webhooks signature, the message framing, hop-by-hop
 * connection handling, the trace context it forwards and its own identity. Compared lower-case.
 */
const RESERVED = new Set([
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'content-type',
  'content-length',
  'host',
  'connection',
  'transfer-encoding',
  'te',
  'upgrade',
  'keep-alive',
  'expect',
  'traceparent',
  'tracestate',
  'user-agent',
]);
const RESERVED_PREFIXES = ['proxy-', 'sec-'];

export function isReservedHeaderName(name: string): boolean {
  const lower = name.toLowerCase();
  return RESERVED.has(lower) || RESERVED_PREFIXES.some((p) => lower.startsWith(p));
}

export const isValidHeaderName = (name: string) => NAME.test(name);
export const isValidHeaderValue = (value: string) => value.length <= CUSTOM_HEADER_LIMITS.maxValueLength && VALUE.test(value);

/** Names plus values, as counted against `maxTotalBytes`. */
export const customHeadersSize = (headers: Record<string, string>) =>
  Object.entries(headers).reduce((n, [name, value]) => n + name.length + value.length, 0);

/** Sealed for storage; `null` for an empty set (nothing to open when sending). */
export function sealCustomHeaders(box: SecretBox, headers: Record<string, string>): string | null {
  return Object.keys(headers).length === 0 ? null : box.seal(JSON.stringify(headers));
}

/** The stored set; throws when the value cannot be opened (a key left the ring) or is not a set of strings. */
export function openCustomHeaders(box: SecretBox, sealed: string | null): Record<string, string> {
  if (sealed === null) return {};
  const parsed: unknown = JSON.parse(box.open(sealed));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('sealed custom headers are not an object');
  const entries = Object.entries(parsed);
  if (entries.some(([, value]) => typeof value !== 'string')) throw new Error('a sealed custom header value is not a string');
  // fromEntries defines own properties: `__proto__` stays a header rather than setting the prototype.
  return Object.fromEntries(entries);
}

/**
 * What the dispatcher may put on the wire: lower-cased names, reserved and malformed entries left out.
 * The API already refuses those; this holds whatever the row says (a hand-edited row, an older rule).
 */
export function deliverableHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers)
      .filter(([name, value]) => isValidHeaderName(name) && !isReservedHeaderName(name) && isValidHeaderValue(value))
      .map(([name, value]) => [name.toLowerCase(), value]),
  );
}
