/**
 * What reached the clients: each WebSocket feed without gaps or conflicting sequences (unless told to
 * resync) and ending on the order's real status; every webhook delivered, verified, recorded once, none lost.
 */
import { WEBHOOK_EVENT_BY_STATUS } from '@orders/contracts';
import { type Evidence, type Row, row } from './history';

/** Rows 5–6 of the table: the WebSocket feeds, then the webhooks. */
export async function deliveryInvariants({ sql, h, byId }: Evidence): Promise<Row[]> {
  const rows: Row[] = [];
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
  return rows;
}
