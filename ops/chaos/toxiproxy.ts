/**
 * A small client for Toxiproxy's HTTP API (https://github.com/Shopify/toxiproxy#http-api): proxies are
 * created once per run, toxics added and removed by the faults.
 */
export interface Toxic {
  name: string;
  type: 'latency' | 'bandwidth' | 'timeout' | 'reset_peer' | 'slicer' | 'limit_data' | 'slow_close';
  stream?: 'upstream' | 'downstream';
  toxicity?: number;
  attributes: Record<string, number>;
}

export class Toxiproxy {
  constructor(private readonly url: string) {}

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`toxiproxy ${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  /** Creates (or re-creates, toxics cleared) each proxy. */
  async populate(proxies: { name: string; listen: string; upstream: string }[]): Promise<void> {
    await this.call('POST', '/reset');
    await this.call(
      'POST',
      '/populate',
      proxies.map((p) => ({ ...p, enabled: true })),
    );
  }

  addToxic(proxy: string, toxic: Toxic): Promise<unknown> {
    return this.call('POST', `/proxies/${proxy}/toxics`, { stream: 'downstream', toxicity: 1, ...toxic });
  }

  removeToxic(proxy: string, name: string): Promise<unknown> {
    return this.call('DELETE', `/proxies/${proxy}/toxics/${name}`);
  }

  /** Removes every toxic and enables every proxy. */
  reset(): Promise<unknown> {
    return this.call('POST', '/reset');
  }
}
