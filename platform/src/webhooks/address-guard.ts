/**
 * The SSRF guard: a webhook goes only to public addresses (unless a host is allowlisted for local
 * development and tests), checked when the URL is registered and again when the connection is made.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** Addresses a webhook must never reach: everything that is not the public internet. */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this" network, unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local (cloud metadata lives here)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const)
  blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128],
  ['::', 96], // IPv4-compatible (deprecated): embeds an IPv4 address (::7f00:1)
  ['::ffff:0:0:0', 96], // IPv4-translated
  ['64:ff9b::', 96], // NAT64: embeds an IPv4 address
  ['64:ff9b:1::', 48], // local-use NAT64
  ['2002::', 16], // 6to4: embeds an IPv4 address
  ['fec0::', 10], // site-local (deprecated)
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const)
  blocked.addSubnet(net, prefix, 'ipv6');

/** Whether `address` (IPv4 or IPv6 text) is a public unicast address. IPv4-mapped IPv6 is judged as IPv4. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    const lower = address.toLowerCase();
    const mapped = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower) ?? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    if (mapped?.[1]) return isPublicAddress(mapped[1]);
    // ::ffff:7f00:1 (hex-written mapped address), IPv4-compatible ::a.b.c.d
    const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
    if (hexMapped) {
      const hi = Number.parseInt(hexMapped[1] as string, 16);
      const lo = Number.parseInt(hexMapped[2] as string, 16);
      return isPublicAddress(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
    }
    if (/^::\d+\.\d+\.\d+\.\d+$/.test(lower)) return false;
    return !blocked.check(address, 'ipv6');
  }
  return !blocked.check(address, 'ipv4');
}

export class UnsafeDestinationError extends Error {
  override readonly name = 'UnsafeDestinationError';
}

/**
 * Where a webhook may go. `allowedHosts` (for local development and tests only) names hosts, exactly as
 * written in the URL (`127.0.0.1`, `receiver.local`), that may resolve to non-public addresses.
 */
export class DestinationPolicy {
  private readonly allowed: Set<string>;
  constructor(
    allowedHosts: string[],
    private readonly requireHttps: boolean,
  ) {
    this.allowed = new Set(allowedHosts.map((h) => h.toLowerCase().replace(/^\[|\]$/g, '')));
  }

  /**
   * Syntax and scheme only (no DNS): what can be said about a URL at once. Control characters and
   * surrounding spaces are refused, not cleaned: the URL parser strips tabs and line breaks and trims
   * C0 controls, so what was stored differed from what the owner sent. The allowlist compares the
   * parsed (normalised) host: every spelling of an allowlisted address (127.1, 0x7f000001, 2130706433
   * for 127.0.0.1) is that address, on any port.
   */
  checkUrl(raw: string): URL {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
    if (/[\u0000-\u001f\u007f]/.test(raw) || raw.trim() !== raw)
      throw new UnsafeDestinationError('control characters or surrounding spaces in the URL');
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UnsafeDestinationError('not a valid absolute URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UnsafeDestinationError('only http(s) URLs');
    if (url.protocol === 'http:' && this.requireHttps && !this.isAllowed(url.hostname))
      throw new UnsafeDestinationError('webhook URLs must use https');
    if (url.username || url.password) throw new UnsafeDestinationError('credentials in the URL are not allowed');
    return url;
  }

  isAllowed(hostname: string): boolean {
    return this.allowed.has(hostname.toLowerCase().replace(/^\[|\]$/g, ''));
  }

  /** Every address `hostname` resolves to must be public (unless allowlisted); resolves to them. */
  async resolve(hostname: string): Promise<LookupAddress[]> {
    const host = hostname.replace(/^\[|\]$/g, '');
    const literal = isIP(host);
    const addresses: LookupAddress[] = literal
      ? [{ address: host, family: literal }]
      : await new Promise<LookupAddress[]>((resolve, reject) =>
          dnsLookup(host, { all: true }, (err, list) =>
            err ? reject(new UnsafeDestinationError(`${host} does not resolve (${err.code})`)) : resolve(list),
          ),
        );
    if (addresses.length === 0) throw new UnsafeDestinationError(`${host} does not resolve`);
    if (!this.isAllowed(host)) {
      const bad = addresses.find((a) => !isPublicAddress(a.address));
      // The address itself stays out of the message: answers must not map someone's internal DNS.
      if (bad) throw new UnsafeDestinationError(`${host} resolves to what is not a public address`);
    }
    return addresses;
  }

  /**
   * A `lookup` for node:http(s) that re-checks at connect time: the connection goes to the address that
   * was checked, so a DNS answer that changes between registration and delivery (rebinding) cannot
   * redirect it inward.
   */
  lookup = (
    hostname: string,
    options: { all?: boolean } | number,
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    this.resolve(hostname).then(
      (list) => {
        if (typeof options === 'object' && options.all) callback(null, list);
        else callback(null, (list[0] as LookupAddress).address, (list[0] as LookupAddress).family);
      },
      (err: Error) => callback(err, ''),
    );
  };
}
