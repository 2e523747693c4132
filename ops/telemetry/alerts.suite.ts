/**
 * The project's alert rules, evaluated by a real Prometheus scraping the real services, fire on real
 * signals: sustained rate limiting while one user hammers a limited route, a blocked stage and its
 * growing consumer lag while the payment provider is down, a target down when the WebSocket edge stops.
 * Asserted through Prometheus's API only (ops/clients/prometheus.ts), as an operator would see them.
 *
 * Run by ops/local/telemetry-suite.mjs, which starts Prometheus in test mode (PROMETHEUS_URL): the
 * project's expressions with every `for:` shortened to a few seconds and 1 s scrapes and evaluations
 * (ops/local/components/prometheus.mjs). So this proves the expressions catch the failures; the
 * production durations are covered by promtool's rule tests (ops/observability/rules.test.yml).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { EventHeaders, Events, namespaced, Topics } from '@orders/contracts';
import { eventually } from '@orders/platform/testing';
import { Kafka, logLevel } from 'kafkajs';
import { type Alert, createPrometheusClient } from '../clients/prometheus';
import { cfg, db, devToken, env, gatewayUrl, mode, type Services, start, stop, useNamespace } from '../e2e/harness';

const prometheusUrl = process.env.PROMETHEUS_URL;
if (!prometheusUrl) throw new Error('PROMETHEUS_URL is not set: run this suite through `npm test -- telemetry`');
const prom = createPrometheusClient(prometheusUrl);
const sql = db();
const SKU = `ALERT-${randomUUID().slice(0, 8).toUpperCase()}`;
/** The limited route's per-user limit here: the abuser exceeds it at once, the other user never. */
const ORDERS_READ_LIMIT = 30;
const edgeInstance = `${cfg.host}:${mode.ports.wsEdgePort}`;
/** ConsumerLagHigh's threshold is 10,000 messages behind, per stage: this many queue behind the stall. */
const BACKLOG = 10_500;

let gateway: Services;
let workers: Services;
let provider: Services | undefined;
let edge: Services | undefined;

/** The active alerts named `name` whose labels include `labels`. */
async function active(name: string, labels: Record<string, string> = {}): Promise<Alert[]> {
  return (await prom.alerts()).filter((a) => a.name === name && Object.entries(labels).every(([k, v]) => a.labels[k] === v));
}

async function firing(name: string, labels: Record<string, string>, timeoutMs: number): Promise<Alert> {
  return eventually(async () => (await active(name, labels)).find((a) => a.state === 'firing'), {
    what: `${name} ${JSON.stringify(labels)} firing in ${prometheusUrl}/api/v1/alerts`,
    timeoutMs,
    everyMs: 500,
  });
}

async function targetUp(job: string): Promise<boolean> {
  const [s] = await prom.query(`up{job="${job}"}`);
  return s?.value === 1;
}

async function placeOrder(token: string): Promise<string> {
  const res = await fetch(`${gatewayUrl}/api/v1/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: JSON.stringify({ items: [{ sku: SKU, quantity: 1 }], paymentMethodToken: 'pm_card_visa' }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/**
 * `count` events queued behind the given orders' on the namespace's orders.events: keyed by their ids (so
 * on their partitions, behind their stalled events), of a type no stage acts on (`stock.released`, skipped
 * by its header without being decoded: pipeline.ts), so the pipeline drains them harmlessly afterwards.
 */
async function queueBehind(orderIds: string[], count: number): Promise<void> {
  const kafka = new Kafka({ clientId: 'alerts-suite-backlog', brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < count; i += 2_500) {
      const messages = Array.from({ length: Math.min(2_500, count - i) }, (_, j) => ({
        key: orderIds[(i + j) % orderIds.length],
        value: Buffer.from('backlog'),
        headers: { [EventHeaders.eventId]: randomUUID(), [EventHeaders.eventType]: Events.StockReleased },
      }));
      await producer.send({ topic: namespaced(Topics.orderEvents, mode.namespace), messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
}

async function statuses(ids: string[]): Promise<Record<string, number>> {
  const rows = await sql<
    { status: string; n: number }[]
  >`SELECT status, count(*)::int AS n FROM orders WHERE id IN ${sql(ids)} GROUP BY status`;
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

beforeAll(async () => {
  expect(await prom.isUp()).toBe(true);
  await useNamespace('tmalerts');
  await sql`INSERT INTO products (sku, name, price_cents, currency, stock) VALUES (${SKU}, 'Alerting mug', 900, 'EUR', 100000)`;
  // One handle per service: the tests stop the provider and the edge on their own.
  [gateway, workers, provider, edge] = await Promise.all([
    start(['gateway'], { RATE_LIMIT_ENDPOINT_GET_API_V1_ORDERS: `${ORDERS_READ_LIMIT}/1m` }),
    start(['workers']),
    start(['payment-provider']),
    start(['ws-edge']),
  ]);
  // Scraped before the services were up, every target started down: wait until Prometheus sees them.
  await eventually(async () => (await targetUp('gateway')) && (await targetUp('ws-edge')) && (await targetUp('workers')), {
    what: 'gateway, ws-edge and workers scraped successfully',
    timeoutMs: 20_000,
    everyMs: 250,
  });
}, 120_000);

afterAll(async () => {
  await Promise.all([gateway, workers, provider, edge].map((s) => (s ? stop(s) : undefined)));
  await sql.end();
});

describe('alerts on real signals, through Prometheus', () => {
  test('abuse: one user hammering a limited route fires GatewayRateLimitedRatioHigh; another user is still served', async () => {
    const abuser = await devToken();
    const other = await devToken();
    const get = (token: string) => fetch(`${gatewayUrl}/api/v1/orders`, { headers: { authorization: `Bearer ${token}` } });
    const abuserStatus = new Map<number, number>();
    const otherStatus: number[] = [];
    let done = false;
    // About 50 requests/s from the abuser, one a second from the other user (well within their own limit).
    const hammer = (async () => {
      while (!done) {
        const res = await get(abuser.accessToken);
        await res.body?.cancel();
        abuserStatus.set(res.status, (abuserStatus.get(res.status) ?? 0) + 1);
        await Bun.sleep(20);
      }
    })();
    const browse = (async () => {
      while (!done && otherStatus.length < ORDERS_READ_LIMIT - 5) {
        const res = await get(other.accessToken);
        await res.body?.cancel();
        otherStatus.push(res.status);
        await Bun.sleep(1_000);
      }
    })();
    let alert: Alert;
    try {
      alert = await firing('GatewayRateLimitedRatioHigh', { service: 'gateway' }, 45_000);
    } finally {
      done = true;
      await Promise.all([hammer, browse]);
    }
    expect(alert.labels).toEqual({ alertname: 'GatewayRateLimitedRatioHigh', service: 'gateway', severity: 'warning' });
    expect(alert.value).toBeGreaterThan(0.1);
    expect(alert.annotations.summary).toContain('of gateway requests are rate limited (429)');
    const limited = abuserStatus.get(429) ?? 0;
    const total = [...abuserStatus.values()].reduce((a, b) => a + b, 0);
    expect(abuserStatus.get(200)).toBe(ORDERS_READ_LIMIT);
    expect(limited / total).toBeGreaterThan(0.5);
    // The other user was answered throughout, every time.
    expect(otherStatus.length).toBeGreaterThanOrEqual(3);
    expect(otherStatus.every((s) => s === 200)).toBe(true);
    // What the description tells the operator to look at names the binding limit.
    const byLimit = await prom.query('sum by (limit) (orders_ratelimit_decisions_total{service="gateway",outcome="limited"})');
    expect(byLimit.map((s) => s.labels.limit)).toContain('GET /api/v1/orders');
    process.stdout.write(
      `  ${total} requests from the abuser (${limited} refused), ${otherStatus.length} from the other user (all 200); ratio ${alert.value.toFixed(2)}\n`,
    );
  }, 60_000);

  test('consumer stall: the payment provider down blocks the payment stage, StageBlocked and ConsumerLagHigh fire, and resolve after it is back', async () => {
    const user = await devToken();
    // The pipeline runs end to end first, and nothing is blocked.
    const warm = await placeOrder(user.accessToken);
    await eventually(async () => (await statuses([warm])).shipped === 1, {
      what: 'a first order shipped',
      timeoutMs: 30_000,
      everyMs: 250,
    });
    expect(await active('StageBlocked')).toEqual([]);
    expect(await active('ConsumerLagHigh')).toEqual([]);

    expect(await stop(provider as Services)).toEqual({ 'payment-provider': 0 });
    provider = undefined;
    const ids = await Promise.all(Array.from({ length: 5 }, () => placeOrder(user.accessToken)));
    const alert = await firing('StageBlocked', { stage: 'payment' }, 60_000);
    expect(alert.labels).toEqual({ alertname: 'StageBlocked', stage: 'payment', severity: 'critical' });
    // A stall, not a crash: the workers process answers its scrapes, and the orders wait before payment.
    expect(await targetUp('workers')).toBe(true);
    expect(await statuses(ids)).toEqual({ validated: 5 });

    // The stall's lag keeps growing (workers/src/runtime/lag.ts measures it from the broker, no batch
    // needed): more than the threshold queued behind the stalled orders fires ConsumerLagHigh for payment.
    await queueBehind(ids, BACKLOG);
    const queuedAt = Date.now();
    const lagAlert = await firing('ConsumerLagHigh', { stage: 'payment' }, 45_000);
    const lagFiredS = (Date.now() - queuedAt) / 1000;
    expect(lagAlert.labels).toEqual({ alertname: 'ConsumerLagHigh', stage: 'payment', severity: 'warning' });
    expect(lagAlert.value).toBeGreaterThanOrEqual(BACKLOG);
    expect(lagAlert.annotations.summary).toStartWith('Stage payment is ');
    // Only payment is behind: the other stages skipped the backlog and measure (almost) nothing.
    const others =
      'sum by (stage) (max by (stage, topic, partition) (orders_worker_consumer_lag{stage=~"validator|inventory|fulfillment|projector"}))';
    await eventually(
      async () => {
        const lag = await prom.query(others);
        return lag.length === 4 && lag.every((s) => s.value < 100);
      },
      { what: `the other stages not behind: ${others}`, timeoutMs: 15_000, everyMs: 500 },
    );

    const stalledAt = Date.now();
    provider = await start(['payment-provider']);
    await eventually(async () => (await statuses(ids)).shipped === 5, {
      what: 'the stalled orders shipped',
      timeoutMs: 30_000,
      everyMs: 250,
    });
    // The backlog drained, the next measurement shows it, and the alert is over.
    await eventually(async () => (await active('ConsumerLagHigh', { stage: 'payment' })).length === 0, {
      what: 'ConsumerLagHigh{stage="payment"} no longer active',
      timeoutMs: 30_000,
      everyMs: 500,
    });
    const lagResolvedS = (Date.now() - stalledAt) / 1000;
    // The expression looks at failures over the last minute ([1m]): it clears about a minute after the last one.
    await eventually(async () => (await active('StageBlocked', { stage: 'payment' })).length === 0, {
      what: 'StageBlocked{stage="payment"} no longer active',
      timeoutMs: 90_000,
      everyMs: 1_000,
    });
    process.stdout.write(
      `  StageBlocked fired while the provider was down and cleared ${((Date.now() - stalledAt) / 1000).toFixed(0)} s after it was back;\n` +
        `  ConsumerLagHigh (${lagAlert.value} behind) fired ${lagFiredS.toFixed(1)} s after ${BACKLOG} events queued behind the stall, ` +
        `cleared ${lagResolvedS.toFixed(1)} s after the provider was back\n`,
    );
  }, 180_000);

  test('target down: stopping the ws-edge fires TargetDown (and ServiceNoHealthyTargets) for it alone', async () => {
    expect(await targetUp('ws-edge')).toBe(true);
    expect(await active('TargetDown', { job: 'ws-edge' })).toEqual([]);
    expect(await stop(edge as Services)).toEqual({ 'ws-edge': 0 });
    edge = undefined;
    const alert = await firing('TargetDown', { job: 'ws-edge' }, 30_000);
    expect(alert.labels).toEqual({ alertname: 'TargetDown', job: 'ws-edge', instance: edgeInstance, severity: 'critical' });
    expect(alert.annotations.summary).toBe(`ws-edge target ${edgeInstance} is down`);
    const none = await firing('ServiceNoHealthyTargets', { job: 'ws-edge' }, 15_000);
    expect(none.labels).toEqual({ alertname: 'ServiceNoHealthyTargets', job: 'ws-edge', severity: 'critical' });
    // The others are still scraped: no TargetDown for them.
    expect((await active('TargetDown')).map((a) => a.labels.job)).toEqual(['ws-edge']);
  }, 60_000);
});
