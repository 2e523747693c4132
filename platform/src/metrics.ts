/**
 * Prometheus metrics (prom-client). One registry per process with the process's default metrics and a
 * `service` label on everything, so one scrape config covers every process.
 */
import client from 'prom-client';

export { client as prom };

export interface Metrics {
  registry: client.Registry;
  counter<L extends string>(name: string, help: string, labelNames?: readonly L[]): client.Counter<L>;
  histogram<L extends string>(name: string, help: string, labelNames?: readonly L[], buckets?: number[]): client.Histogram<L>;
  /** `read`: the value, taken when the metrics are scraped (nothing to keep current on a hot path). */
  gauge<L extends string>(name: string, help: string, labelNames?: readonly L[], read?: () => number): client.Gauge<L>;
  /** Exposition text and its content type, for a `/metrics` endpoint. */
  render(): Promise<{ body: string; contentType: string }>;
}

/** Latency buckets in seconds, from 0.5 ms to 10 s. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(service: string, opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new client.Registry();
  registry.setDefaultLabels({ service });
  if (opts.defaultMetrics !== false) client.collectDefaultMetrics({ register: registry, prefix: 'orders_' });
  return {
    registry,
    counter: (name, help, labelNames = []) => new client.Counter({ name: `orders_${name}`, help, labelNames, registers: [registry] }),
    histogram: (name, help, labelNames = [], buckets = LATENCY_BUCKETS) =>
      new client.Histogram({ name: `orders_${name}`, help, labelNames, buckets, registers: [registry] }),
    gauge: (name, help, labelNames = [], read) =>
      new client.Gauge({
        name: `orders_${name}`,
        help,
        labelNames,
        registers: [registry],
        ...(read
          ? {
              collect(this: client.Gauge) {
                this.set(read());
              },
            }
          : {}),
      }),
    async render() {
      return { body: await registry.metrics(), contentType: registry.contentType };
    },
  };
}
