/** What the rate-limiter suites share: a limiter with test timings, limits written briefly, metric samples. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import pino from 'pino';
import { type Algorithm, type Decision, type LimitCheck, RateLimiter } from '../src/index';
import { createMetrics, type Metrics } from '../src/metrics';

const silent = pino({ level: 'silent' });

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A limiter in a namespace of its own, with its own metrics unless given some. */
export function limiter(
  redis: Redis | Cluster,
  algorithm: Algorithm = 'log',
  extra: { timeoutMs?: number; retryAfterMs?: number; metrics?: Metrics } = {},
) {
  return new RateLimiter({
    redis,
    algorithm,
    namespace: `t${randomUUID().slice(0, 6)}`,
    timeoutMs: extra.timeoutMs ?? 500,
    retryAfterMs: extra.retryAfterMs ?? 200,
    metrics: extra.metrics ?? createMetrics('rl-test', { defaultMetrics: false }),
    logger: silent,
  });
}

export const rule = (limit: number, windowMs: number): LimitCheck['rule'] => ({ limit, windowMs });

/** Checks from `[name, limit, windowMs]`. */
export const limits = (...specs: [name: string, limit: number, windowMs: number][]): LimitCheck[] =>
  specs.map(([name, limit, windowMs]) => ({ name, rule: rule(limit, windowMs) }));

/** A fresh subject (no request counted yet). */
export const newSubject = () => `u:${randomUUID()}`;

/**
 * Spends `admissions` checks of `subject`, each of which must be admitted, then one more that must be
 * refused; returns the admissions and the refusal.
 */
export async function fill(rl: RateLimiter, subject: string, checks: LimitCheck[], admissions: number) {
  const admitted: Decision[] = [];
  for (let i = 1; i <= admissions; i++) {
    const d = await rl.check(subject, checks);
    assert.equal(d.allowed, true, `admission ${i} of ${admissions}`);
    admitted.push(d);
  }
  const refused = await rl.check(subject, checks);
  assert.equal(refused.allowed, false, `refused after ${admissions} admissions`);
  return { admitted, refused };
}

/** A metric's samples, by their label set. */
export async function samples(metrics: Metrics, name: string) {
  const metric = metrics.registry.getSingleMetric(`orders_${name}`);
  const values = metric ? (await metric.get()).values : [];
  // Histograms name each sample (`…_count`, `…_sum`, `…_bucket`); counters do not.
  return values as { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

/** Script calls the limiter made so far (the batch-size histogram's count). */
export async function scriptCalls(metrics: Metrics): Promise<number> {
  return (await samples(metrics, 'ratelimit_batch_size')).find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
}
