/**
 * Webhooks, the parts the gateway (registration) and the dispatcher (delivery) share: Standard Webhooks
 * signing, endpoint secrets (generated, encrypted at rest), the retry schedule, and the SSRF guard.
 *
 * Signing (https://www.standardwebhooks.com): `webhook-signature: v1,<base64 HMAC-SHA256(key,
 * "<webhook-id>.<webhook-timestamp>.<body>")>`, where key is the base64 after `whsec_`; during a secret
 * rotation one signature per valid secret, space-separated.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

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

/**
 * Endpoint secrets at rest: AES-256-GCM under the platform's webhook key (WEBHOOK_SECRET_KEY). The
 * dispatcher must sign with the secret itself, so it is encrypted, not hashed.
 *
 * The key is a key ring, so it can be rotated without a flag day: one `kid:base64` per line (32-byte
 * keys), the first line the active key that seals, every line a key that opens. A sealed value names
 * its key (`v2:<kid>:<base64>`); values sealed before key ids existed (`v1:<base64>`) are opened by
 * trying the ring's keys (GCM's tag tells the right one). A bare base64 key (one line, no id) is the
 * ring with the single key `0`. Rotation, in two roll-outs so no process meets a key it lacks: add the
 * new key as the second line everywhere; then move it first (it seals from then on); re-seal
 * (`rotate-secret`, or `kidOf` to find what still uses an old key); then drop the old line. SECURITY.md.
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  private readonly active: string;

  constructor(keyRing: string) {
    const lines = keyRing
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean);
    for (const line of lines) {
      const [kid, material] = line.includes(':') ? (line.split(':', 2) as [string, string]) : ['0', line];
      if (!/^[A-Za-z0-9._-]{1,32}$/.test(kid)) throw new Error(`WEBHOOK_SECRET_KEY: the key id "${kid}" is not [A-Za-z0-9._-]{1,32}`);
      const key = Buffer.from(material, 'base64');
      if (key.length !== 32) throw new Error(`WEBHOOK_SECRET_KEY: key ${kid} must be 32 bytes, base64-encoded`);
      if (this.keys.has(kid)) throw new Error(`WEBHOOK_SECRET_KEY: key id ${kid} appears twice`);
      this.keys.set(kid, key);
    }
    const first = this.keys.keys().next().value;
    if (first === undefined) throw new Error('WEBHOOK_SECRET_KEY must hold a key (32 bytes, base64-encoded)');
    this.active = first;
  }

  /** The id of the key that seals. */
  get activeKeyId(): string {
    return this.active;
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.active) as Buffer, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `v2:${this.active}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  open(sealed: string): string {
    if (sealed.startsWith('v2:')) {
      const [, kid, data] = sealed.split(':', 3) as [string, string, string];
      const key = this.keys.get(kid);
      if (!key) throw new Error(`sealed with key ${kid}, which is not in WEBHOOK_SECRET_KEY`);
      return decrypt(key, Buffer.from(data, 'base64'));
    }
    if (!sealed.startsWith('v1:')) throw new Error('unknown sealed-secret format');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    for (const key of this.keys.values()) {
      try {
        return decrypt(key, raw);
      } catch {
        // Not this key: the authentication tag did not verify.
      }
    }
    throw new Error('no key in WEBHOOK_SECRET_KEY opens this sealed secret');
  }

  /** The key id a sealed value names (undefined for the id-less v1 format). */
  static kidOf(sealed: string): string | undefined {
    return sealed.startsWith('v2:') ? sealed.split(':', 3)[1] : undefined;
  }
}

function decrypt(key: Buffer, raw: Buffer): string {
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}

/** Delays before attempts 1..8 (the first is immediate), per the issue; `scale` speeds the clock for tests. */
export const RETRY_SCHEDULE_MS = [0, 5_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 5 * 3_600_000, 10 * 3_600_000, 10 * 3_600_000];

/** The delay before attempt `attempt + 1` after `attempt` failed ones, ±10 % jitter; undefined: give up. */
export function nextDelayMs(attempt: number, scale: number, random = Math.random): number | undefined {
  const base = RETRY_SCHEDULE_MS[attempt];
  if (base === undefined) return undefined;
  return Math.round(base * scale * (0.9 + 0.2 * random()));
}

/** `Retry-After` as ms from now (delta-seconds or an HTTP date); undefined when absent or unreadable. */
const RETRY_AFTER_MAX_MS = 24 * 3_600_000;

export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  // Capped: a receiver asking for years (or more than a timestamp holds) waits a day.
  if (/^\d+$/.test(value.trim())) return Math.min(Number(value.trim()) * 1000, RETRY_AFTER_MAX_MS);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - now), RETRY_AFTER_MAX_MS);
}

// ── SSRF ────────────────────────────────────────────────────────────────────────────────────────

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
