/**
 * The invariant checker: compares what clients were told (the history) with what the system did (the
 * database, the payment provider's own record, the WebSocket transcripts, the webhook receivers' logs,
 * the DLQ topics), and returns one row per invariant with its counts.
 */
import { deadLetterTopic, namespaced, StageInputs, TERMINAL_STATUSES, WEBHOOK_EVENT_BY_STATUS } from '@orders/contracts';
import { Kafka, logLevel } from 'kafkajs';
import type postgres from 'postgres';
import { registerLz4 } from '../kafka/lz4';
import type { FaultRecord } from './faults';
import type { Attempt, Customer, Feed, PlaceOp, Receiver } from './load';
import { NAMESPACE, urls } from './stack';

export interface Row {
  invariant: string;
  held: boolean;
  detail: string;
}

export interface History {
  ops: PlaceOp[];
  reads: Attempt[];
  customers: Customer[];
  feeds: Feed[];
  /** Each receiver with its endpoint and the customer who subscribed it. */
  receivers: { receiver: Receiver; endpointId: string; userId: string }[];
  faults: FaultRecord[];
  poisonKeys: string[];
  /** Stock of each SKU the load used, before it started. */
  stockBefore: Map<string, number>;
  /** How long after the last heal every acknowledged order was terminal. */
  drainMs: number | undefined;
  drainBoundMs: number;
}

const row = (invariant: string, held: boolean, detail: string): Row => ({ invariant, held, detail });

interface Charge {
  id: string;
  amount: number;
  reference: string;
  refunded: number;
}

/** Every message of the stages' DLQ topics: key and the stage that parked it. */
async function dlqMessages(): Promise<{ key: string; topic: string }[]> {
  // The workers' producers compress with LZ4.
  registerLz4();
  const kafka = new Kafka({ clientId: 'chaos-checker', brokers: urls.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const out: { key: string; topic: string }[] = [];
  try {
    const topics = (Object.keys(StageInputs) as (keyof typeof StageInputs)[]).map((g) => namespaced(deadLetterTopic(g), NAMESPACE));
    const withData: { topic: string; partition: number; low: number; high: number }[] = [];
    for (const topic of topics) {
      for (const o of await admin.fetchTopicOffsets(topic))
        if (Number(o.high) > Number(o.low)) withData.push({ topic, partition: o.partition, low: Number(o.low), high: Number(o.high) });
    }
    if (withData.length === 0) return out;
    const consumer = kafka.consumer({ groupId: `chaos-checker-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topics: [...new Set(withData.map((w) => w.topic))], fromBeginning: true });
    const left = new Map(withData.map((w) => [`${w.topic}/${w.partition}`, w.high]));
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        out.push({ key: message.key?.toString() ?? '', topic });
        if (Number(message.offset) >= (left.get(`${topic}/${partition}`) ?? 0) - 1) left.delete(`${topic}/${partition}`);
      },
    });
    const deadline = Date.now() + 30_000;
    while (left.size > 0 && Date.now() < deadline) await Bun.sleep(100);
    await consumer.disconnect();
    return out;
  } finally {
    await admin.disconnect();
  }
}

export async function check(sql: postgres.Sql, h: History): Promise<Row[]> {
  const rows: Row[] = [];
  const userIds = h.customers.map((c) => c.userId);

  // 1. Every acknowledged order exists once; a key never named two orders; nothing exists that no client asked for.
  const acked = h.ops.filter((o) => o.orderId);
  const ids = acked.map((o) => o.orderId as string);
  const splitKeys = h.ops.filter((o) => o.ids.size > 1).length;
  const dbOrders = await sql<{ id: string; status: string; user_id: string; total_cents: number }[]>`
    SELECT id, status, user_id, total_cents::float8 AS total_cents FROM orders WHERE user_id IN ${sql(userIds)}`;
  const byId = new Map(dbOrders.map((o) => [o.id, o]));
  const missing = ids.filter((id) => !byId.has(id)).length;
  const unanswered = h.ops.filter((o) => !o.orderId && o.refused === undefined).length;
  const known = new Set(ids);
  const phantom = dbOrders.filter((o) => !known.has(o.id)).length;
  rows.push(
    row(
      'every acknowledged order exists, once',
      missing === 0 && splitKeys === 0,
      `${acked.length} acknowledged of ${h.ops.length} placed (${h.ops.filter((o) => o.refused !== undefined).length} refused, ${unanswered} never answered after retries); ${missing} missing; ${splitKeys} keys naming two orders`,
    ),
  );
  rows.push(
    row(
      'no order the clients were not told about',
      phantom <= unanswered,
      `${phantom} orders in the database without an acknowledgement (allowed: up to the ${unanswered} requests whose answer never came)`,
    ),
  );

  // 2. Terminal within the bound after the faults stopped.
  const open = dbOrders.filter((o) => !TERMINAL_STATUSES.includes(o.status as never));
  const statusCount = new Map<string, number>();
  for (const o of dbOrders) statusCount.set(o.status, (statusCount.get(o.status) ?? 0) + 1);
  rows.push(
    row(
      `every order reaches a terminal state within ${h.drainBoundMs / 1000} s of the last fault`,
      open.length === 0 && h.drainMs !== undefined,
      `${open.length} not terminal; ${h.drainMs === undefined ? 'not drained' : `drained ${(h.drainMs / 1000).toFixed(1)} s after the last heal`}; ${[
        ...statusCount,
      ]
        .map(([s, n]) => `${s} ${n}`)
        .join(', ')}`,
    ),
  );

  // 3. Money: no order charged twice; every charge belongs to an order; what did not ship was refunded.
  const charges = ((await (await fetch(`${urls.provider}/v1/charges`)).json()) as { data: Charge[] }).data.filter((c) =>
    byId.has(c.reference),
  );
  const perOrder = new Map<string, Charge[]>();
  for (const c of charges) perOrder.set(c.reference, [...(perOrder.get(c.reference) ?? []), c]);
  const twice = [...perOrder.values()].filter((cs) => cs.length > 1).length;
  rows.push(
    row(
      'no order charged twice',
      twice === 0,
      `${charges.length} charges for ${perOrder.size} orders; ${twice} orders charged more than once`,
    ),
  );
  let notRefunded = 0;
  let refundedShipped = 0;
  let shippedUncharged = 0;
  for (const o of dbOrders) {
    const cs = perOrder.get(o.id) ?? [];
    const kept = cs.reduce((s, c) => s + c.amount - c.refunded, 0);
    if (o.status === 'shipped') {
      if (cs.length === 0) shippedUncharged++;
      else if (kept !== o.total_cents) refundedShipped++;
    } else if (kept !== 0) notRefunded++;
  }
  rows.push(
    row(
      'every paid order that did not ship is refunded; shipped ones keep their charge',
      notRefunded === 0 && refundedShipped === 0 && shippedUncharged === 0,
      `${notRefunded} unshipped orders still charged; ${refundedShipped} shipped orders not charged their total; ${shippedUncharged} shipped without a charge`,
    ),
  );

  // 4. Stock moved by exactly what shipped.
  const skus = [...h.stockBefore.keys()];
  const stock = await sql<{ sku: string; stock: number }[]>`SELECT sku, stock FROM products WHERE sku IN ${sql(skus)}`;
  const shippedQty = await sql<{ sku: string; q: number }[]>`
    SELECT i.sku, sum(i.quantity)::int AS q FROM order_items i JOIN orders o ON o.id = i.order_id
    WHERE o.status = 'shipped' AND i.sku IN ${sql(skus)} GROUP BY i.sku`;
  const off = stock
    .map((s) => ({
      sku: s.sku,
      moved: (h.stockBefore.get(s.sku) ?? 0) - s.stock,
      shipped: shippedQty.find((q) => q.sku === s.sku)?.q ?? 0,
    }))
    .filter((s) => s.moved !== s.shipped);
  const held = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM reservations r JOIN orders o ON o.id = r.order_id
    WHERE o.status <> 'shipped' AND r.status = 'reserved' AND o.user_id IN ${sql(userIds)}`.catch(() => [{ n: -1 }]);
  rows.push(
    row(
      'stock moved by exactly what shipped',
      off.length === 0 && (held[0]?.n ?? 0) <= 0,
      off.length === 0
        ? `${skus.length} SKUs: moved = shipped${(held[0]?.n ?? 0) < 0 ? '' : `; ${held[0]?.n} reservations still held by unshipped orders`}`
        : off.map((o) => `${o.sku} moved ${o.moved}, shipped ${o.shipped}`).join('; '),
    ),
  );

  // 5. The live feeds: no gap, no conflicting sequence, unless the client was told to resync.
  let gaps = 0;
  let conflicts = 0;
  let repeats = 0;
  let resyncs = 0;
  let reconnects = 0;
  let updates = 0;
  let wrongFinal = 0;
  for (const f of h.feeds) {
    const s = f.state();
    conflicts += f.conflicts;
    repeats += f.repeats;
    resyncs += f.resyncs.length;
    reconnects += f.reconnects;
    updates += f.updates.length;
    // In the last epoch, everything from its start to the highest sequence seen arrived.
    if (s.baseline !== undefined) gaps += s.maxSeen > s.contiguous ? s.maxSeen - s.contiguous : 0;
    const last = new Map<string, string>();
    for (const u of f.updates) if (u.epoch === s.epoch) last.set(u.orderId, u.status);
    for (const [orderId, status] of last) if (byId.get(orderId)?.status !== status) wrongFinal++;
  }
  rows.push(
    row(
      'each feed has no gap and no conflicting sequence (or was told to resync)',
      gaps === 0 && conflicts === 0,
      `${h.feeds.length} feeds, ${updates} updates, ${reconnects} reconnects, ${resyncs} resyncs; ${gaps} missing, ${conflicts} conflicting, ${repeats} repeated`,
    ),
  );
  rows.push(
    row('the last status each feed shows is the order’s status', wrongFinal === 0, `${wrongFinal} orders whose last update differs`),
  );

  // 6. Webhooks: every message delivered, stable ids, at most one success recorded, every signature verified, none missing.
  const endpointIds = h.receivers.map((r) => r.endpointId);
  const messages = await sql<
    { id: string; status: string; order_id: string | null; event_type: string; endpoint_id: string; successes: number }[]
  >`
    SELECT m.id, m.status, m.order_id, m.event_type, m.endpoint_id,
      (SELECT count(*)::int FROM webhook_attempts a WHERE a.message_id = m.id AND a.outcome = 'succeeded') AS successes
    FROM webhook_messages m WHERE m.endpoint_id IN ${sql(endpointIds)}`;
  const got = new Map<string, { ok: boolean; verified: boolean }>();
  let unverified = 0;
  for (const { receiver } of h.receivers)
    for (const d of receiver.got) {
      if (!d.verified) unverified++;
      const prev = got.get(d.webhookId);
      got.set(d.webhookId, { ok: (prev?.ok ?? false) || d.answered < 300, verified: d.verified });
    }
  const undelivered = messages.filter((m) => m.status !== 'succeeded' || !got.get(`msg_${m.id.replaceAll('-', '')}`)?.ok).length;
  const doubleSuccess = messages.filter((m) => m.successes > 1).length;
  // Expected: one message per status change (that has a webhook event) of each subscribed customer's orders.
  const subscribedUsers = h.receivers.map((r) => r.userId);
  const changes = await sql<{ order_id: string; to_status: string }[]>`
    SELECT hst.order_id, hst.to_status FROM order_status_history hst JOIN orders o ON o.id = hst.order_id
    WHERE o.user_id IN ${sql(subscribedUsers)} AND hst.from_status IS NOT NULL`;
  const have = new Set(messages.map((m) => `${m.order_id}|${m.event_type}`));
  const lostHooks = changes.filter(
    (c) => WEBHOOK_EVENT_BY_STATUS[c.to_status as never] && !have.has(`${c.order_id}|${WEBHOOK_EVENT_BY_STATUS[c.to_status as never]}`),
  ).length;
  const deliveries = h.receivers.reduce((s, r) => s + r.receiver.got.length, 0);
  rows.push(
    row(
      'every webhook delivered with a stable id, one success recorded, none lost',
      undelivered === 0 && doubleSuccess === 0 && unverified === 0 && lostHooks === 0,
      `${messages.length} messages for ${changes.length} status changes, ${deliveries} requests received; ${undelivered} not delivered, ${lostHooks} missing, ${doubleSuccess} with two successes recorded, ${unverified} signatures that did not verify`,
    ),
  );

  // 7. The outbox drains; the DLQs hold only what was poisoned on purpose.
  const [outbox] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox`;
  rows.push(row('the outbox drains', outbox?.n === 0, `${outbox?.n} rows left`));
  const dlq = await dlqMessages();
  const poison = new Set(h.poisonKeys);
  const unexpected = dlq.filter((m) => !poison.has(m.key));
  const parked = new Set(dlq.filter((m) => poison.has(m.key)).map((m) => m.key));
  rows.push(
    row(
      'no message in a DLQ but the poisoned ones',
      unexpected.length === 0 && parked.size === poison.size,
      `${dlq.length} DLQ messages; ${parked.size} of ${poison.size} poisoned keys parked; ${unexpected.length} others${
        unexpected.length ? ` (${[...new Set(unexpected.map((u) => u.topic))].join(', ')})` : ''
      }`,
    ),
  );

  // 8. What the faults' probes saw (Redis down: API serves, login fails closed; PostgreSQL down: a clear 503).
  for (const f of h.faults) for (const o of f.observations) rows.push(row(o.check, o.ok, o.detail));

  // 9. Every failure the clients saw was a clear answer: problem+json, 503/429/409 with a code, never a 500.
  const all = [...h.ops.flatMap((o) => o.attempts), ...h.reads, ...h.ops.flatMap((o) => (o.cancel ? [o.cancel] : []))];
  const unclear = all.filter((a) => a.status >= 400 && (!a.contentType?.startsWith('application/problem+json') || !a.code));
  const fivehundreds = all.filter((a) => a.status === 500 || a.status === 502 || a.status === 504);
  const byStatus = new Map<number, number>();
  for (const a of all) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
  rows.push(
    row(
      'every error answer is a problem+json with a code; no 500',
      unclear.length === 0 && fivehundreds.length === 0,
      `${all.length} requests: ${[...byStatus]
        .sort((a, b) => a[0] - b[0])
        .map(([s, n]) => `${s === 0 ? 'no answer' : s} ×${n}`)
        .join(', ')}`,
    ),
  );
  return rows;
}
