/**
 * Tracing end to end, against the real Jaeger the telemetry suite starts (ops/local/telemetry-suite.mjs:
 * OTLP_URL, JAEGER_URL): the gateway, the workers and the payment provider export their spans over OTLP,
 * an order is placed with a known `traceparent`, and Jaeger's query API must hold one trace, across both
 * processes, with the gateway's request, the outbox publish, every stage's span and the webhook delivery,
 * each span's parent in the trace. A caller's unsampled `traceparent` is honoured the whole way: the
 * trace is carried to the webhook receiver and nothing of it is recorded.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { eventually } from '@orders/platform/testing';
import { devToken, gatewayUrl, type Services, start, stop, useNamespace } from '../e2e/harness';
import { Receiver } from '../e2e/webhook-receiver';

const OTLP_URL = process.env.OTLP_URL ?? '';
const JAEGER_URL = process.env.JAEGER_URL ?? '';
/** The caller's span: not recorded anywhere (the test is not traced), the request span's remote parent. */
const CALLER_SPAN = '00f067aa0ba902b7';
const STAGES = ['validator', 'payment', 'inventory', 'fulfillment', 'projector', 'webhooks'];

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  processID: string;
  tags: { key: string; value: unknown }[];
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

let services: Services;
const receiver = new Receiver();

beforeAll(async () => {
  if (!OTLP_URL || !JAEGER_URL) throw new Error('OTLP_URL and JAEGER_URL are unset: run this through `npm test -- telemetry`');
  await useNamespace('teltrace');
  services = await start(['gateway', 'payment-provider', 'workers'], {
    OTEL_EXPORTER_OTLP_ENDPOINT: OTLP_URL,
    // Spans leave within a fifth of a second, so the trace is complete soon after the delivery.
    OTEL_BSP_SCHEDULE_DELAY: '200',
    WEBHOOK_POLL_MS: '100',
  });
}, 120_000);

afterAll(async () => {
  receiver.stop();
  if (services) await stop(services);
}, 60_000);

const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;
const parentOf = (span: JaegerSpan) => span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;

/** The trace as Jaeger has it, or undefined while it does not (404). */
async function jaegerTrace(traceId: string): Promise<JaegerTrace | undefined> {
  const res = await fetch(`${JAEGER_URL}/api/traces/${traceId}`);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`Jaeger answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { data: JaegerTrace[] };
  expect(body.data).toHaveLength(1);
  return body.data[0];
}

/** Places an order for a user with an endpoint subscribed to `order.shipped`, under the caller's `traceparent`. */
async function placeOrder(traceparent: string) {
  const user = await devToken();
  const registered = await fetch(`${gatewayUrl}/api/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: receiver.url, eventTypes: ['order.shipped'] }),
  });
  expect(registered.status).toBe(201);
  const endpoint = (await registered.json()) as { id: string; secret: string };
  receiver.secrets = [endpoint.secret];
  const placed = await fetch(`${gatewayUrl}/api/v1/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json', traceparent },
    body: JSON.stringify({ items: [{ sku: 'MUG-BLUE', quantity: 1 }], paymentMethodToken: 'pm_card_visa' }),
  });
  expect(placed.status).toBe(201);
  const traceId = traceparent.split('-')[1] as string;
  expect(placed.headers.get('x-trace-id')).toBe(traceId);
  // Shipped, fanned out and delivered: the last hop of the trace has happened.
  const delivery = await eventually(() => receiver.got.find((g) => g.traceparent.split('-')[1] === traceId), {
    timeoutMs: 30_000,
    everyMs: 50,
    what: 'the order.shipped webhook delivery',
  });
  expect(delivery.type).toBe('order.shipped');
  expect(delivery.verified).toBe(true);
  return { endpointId: endpoint.id, delivery };
}

describe('traces in Jaeger', () => {
  test('one order is one trace: request → outbox → every stage → webhook delivery, parents intact', async () => {
    const traceId = randomUUID().replaceAll('-', '');
    const { endpointId, delivery } = await placeOrder(`00-${traceId}-${CALLER_SPAN}-01`);

    // Spans arrive in batches from two processes: wait until the delivery's is there and its ancestry complete.
    const trace = await eventually(
      async () => {
        const t = await jaegerTrace(traceId);
        const ids = new Set(t?.spans.map((s) => s.spanID));
        const complete = t?.spans.every((s) => ids.has(parentOf(s) ?? '') || parentOf(s) === CALLER_SPAN);
        return t?.spans.some((s) => s.operationName === 'POST webhook') && complete ? t : undefined;
      },
      { timeoutMs: 30_000, everyMs: 250, what: `trace ${traceId} complete in Jaeger` },
    );
    const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
    const service = (s: JaegerSpan) => trace.processes[s.processID]?.serviceName;

    // Both processes, under their own service names, in one trace.
    expect(new Set(trace.spans.map(service))).toEqual(new Set(['gateway', 'workers']));
    expect(trace.spans.every((s) => s.traceID === traceId)).toBe(true);

    // Every span's parent is in the trace, but the request's: the caller's span.
    const [root, ...others] = trace.spans.filter((s) => parentOf(s) === CALLER_SPAN);
    expect(others).toHaveLength(0);
    // Named by the route template (Elysia's, as the request metrics label it).
    expect(String(tag(root as JaegerSpan, 'http.route'))).toMatch(/^\/api\/v1\/orders\/?$/);
    expect(root?.operationName).toBe(`POST ${tag(root as JaegerSpan, 'http.route')}`);
    expect(service(root as JaegerSpan)).toBe('gateway');
    expect(tag(root as JaegerSpan, 'http.response.status_code')).toBe(201);
    for (const s of trace.spans) if (s !== root) expect(byId.has(parentOf(s) ?? '')).toBe(true);

    // Every stage worked on the order in this trace.
    const stages = new Set(trace.spans.map((s) => tag(s, 'orders.stage')).filter(Boolean));
    expect([...stages].sort()).toEqual([...STAGES].sort());

    // The delivery's ancestry is the order's whole path, hop by hop.
    const deliverySpan = trace.spans.find((s) => s.operationName === 'POST webhook') as JaegerSpan;
    expect(tag(deliverySpan, 'orders.webhook.endpoint_id')).toBe(endpointId);
    expect(tag(deliverySpan, 'http.response.status_code')).toBe(204);
    expect(tag(deliverySpan, 'orders.attempt')).toBe(1);
    // The receiver continues the delivery's span.
    expect(delivery.traceparent.split('-')[2]).toBe(deliverySpan.spanID);
    const path: string[] = [];
    for (let s: JaegerSpan | undefined = deliverySpan; s; s = byId.get(parentOf(s) ?? '')) {
      path.push(String(tag(s, 'orders.stage') ?? s.operationName.split(' ')[0]));
    }
    expect(path).toEqual(['POST', 'webhooks', 'projector', 'fulfillment', 'inventory', 'payment', 'validator', 'publish', 'POST']);
    const validator = trace.spans.find((s) => tag(s, 'orders.stage') === 'validator') as JaegerSpan;
    const outboxSpan = byId.get(parentOf(validator) ?? '') as JaegerSpan;
    expect(outboxSpan.operationName).toBe('publish order.placed');
    expect(service(outboxSpan)).toBe('gateway');
    expect(parentOf(outboxSpan)).toBe(root?.spanID);
    for (const s of trace.spans.filter((x) => tag(x, 'orders.stage'))) expect(tag(s, 'orders.outcome')).toBe('handled');
  }, 90_000);

  test('a caller’s unsampled trace is carried to the webhook and nothing of it is recorded', async () => {
    const traceId = randomUUID().replaceAll('-', '');
    const { delivery } = await placeOrder(`00-${traceId}-${CALLER_SPAN}-00`);
    // Propagated all the way, still unsampled.
    expect(delivery.traceparent.split('-')[3]).toBe('00');
    // The sampled trace of the first test is in Jaeger, so the spans of this one would be too by now,
    // had any been recorded: give both processes' batches (200 ms) ample time, then look.
    await Bun.sleep(2_000);
    expect(await jaegerTrace(traceId)).toBeUndefined();
  }, 90_000);
});
