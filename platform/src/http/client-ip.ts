/**
 * Who sent a request. The client IP is the socket's peer, unless that peer is a configured trusted
 * proxy: then the right-most X-Forwarded-For address that is not itself a trusted proxy. Shared by the
 * gateway (rate limits) and the WebSocket edge (unauthenticated sockets per address).
 */
import { BlockList, isIP } from 'node:net';

/**
 * The proxies whose X-Forwarded-For is believed: addresses and CIDR ranges (a Kubernetes ingress's pod
 * range, a compose network), IPv4 and IPv6; an IPv4-mapped IPv6 peer is judged as IPv4.
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const [address, prefix] = e.split('/') as [string, string | undefined];
      const family = isIP(address);
      const bits = family === 4 ? 32 : 128;
      if (family === 0 || (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits)))
        throw new Error(`not an IP address or CIDR range: ${e}`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (prefix === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, Number(prefix), type);
    }
    this.size = entries.length;
  }

  has(ip: string): boolean {
    if (this.size === 0) return false;
    const plain = ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    const family = isIP(plain);
    return family !== 0 && this.list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }
}

export function clientIp(request: Request, peer: string | undefined, trusted: { has(ip: string): boolean }): string {
  // No socket means the request was handed to the app in-process (tests): it came from this host.
  const socket = peer ?? '127.0.0.1';
  if (!trusted.has(socket)) return socket;
  const forwarded = (request.headers.get('x-forwarded-for') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (let i = forwarded.length - 1; i >= 0; i--) {
    const hop = forwarded[i] as string;
    if (!trusted.has(hop)) return hop;
  }
  return socket;
}

/** TRUSTED_PROXIES as a service's env.ts reads it: bad entries join the configuration's problems. */
export function parseTrustedProxies(entries: readonly string[], problems: string[]): TrustedProxies {
  try {
    return new TrustedProxies(entries);
  } catch (err) {
    problems.push(`TRUSTED_PROXIES must list IP addresses or CIDR ranges: ${(err as Error).message}`);
    return new TrustedProxies([]);
  }
}
