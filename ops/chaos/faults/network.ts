/**
 * Links degraded through Toxiproxy, each for a while and then healed: partitions (packets dropped both
 * ways), added latency, a narrow pipe, connections reset.
 */
import { KAFKA_PROXIES, toxi } from '../stack';
import type { Fault } from './fault';

/** A network partition between every service and PostgreSQL (packets dropped both ways), healed after `ms`. */
export const partition = (proxy: 'postgres' | 'redis' | 'kafka', ms = 6_000): Fault => ({
  name: `partition ${proxy}`,
  async run() {
    const proxies = proxy === 'kafka' ? KAFKA_PROXIES : [proxy];
    const startedAt = Date.now();
    for (const p of proxies)
      for (const stream of ['upstream', 'downstream'] as const)
        await toxi.addToxic(p, { name: `partition-${stream}`, type: 'timeout', stream, attributes: { timeout: 0 } });
    await Bun.sleep(ms);
    for (const p of proxies) for (const stream of ['upstream', 'downstream']) await toxi.removeToxic(p, `partition-${stream}`);
    return { target: `${proxies.join(', ')} (blackholed both ways for ${ms} ms)`, startedAt, healedAt: Date.now(), observations: [] };
  },
});

/** Added latency (with jitter) on the links to every Kafka broker. */
export const slowKafka = (latency = 300, ms = 10_000): Fault => ({
  name: 'slow Kafka links',
  async run() {
    const startedAt = Date.now();
    for (const p of KAFKA_PROXIES) await toxi.addToxic(p, { name: 'slow', type: 'latency', attributes: { latency, jitter: latency / 3 } });
    await Bun.sleep(ms);
    for (const p of KAFKA_PROXIES) await toxi.removeToxic(p, 'slow');
    return { target: `Kafka links +${latency} ms ±${latency / 3} for ${ms} ms`, startedAt, healedAt: Date.now(), observations: [] };
  },
});

/** A narrow link to PostgreSQL (KB/s, answers only). */
export const narrowPostgres = (kbps = 64, ms = 10_000): Fault => ({
  name: 'narrow PostgreSQL link',
  async run() {
    const startedAt = Date.now();
    await toxi.addToxic('postgres', { name: 'narrow', type: 'bandwidth', attributes: { rate: kbps } });
    await Bun.sleep(ms);
    await toxi.removeToxic('postgres', 'narrow');
    return { target: `PostgreSQL answers at ${kbps} KB/s for ${ms} ms`, startedAt, healedAt: Date.now(), observations: [] };
  },
});

/** Connections to Redis reset (TCP RST) shortly after they open, for `ms`. */
export const resetRedis = (ms = 5_000): Fault => ({
  name: 'reset Redis connections',
  async run() {
    const startedAt = Date.now();
    await toxi.addToxic('redis', { name: 'reset', type: 'reset_peer', attributes: { timeout: 300 } });
    await Bun.sleep(ms);
    await toxi.removeToxic('redis', 'reset');
    return { target: `Redis connections reset after 300 ms, for ${ms} ms`, startedAt, healedAt: Date.now(), observations: [] };
  },
});
