/**
 * Deliveries of one webhook endpoint, for its owner: the messages (status, attempts, next attempt),
 * one message with every attempt, a test event, and sending messages again. The dispatcher (workers)
 * does the sending; `pg_notify('webhooks')` wakes it when there is something to send now.
 */
import { WEBHOOK_TEST_EVENT, type WebhookPayload } from '@orders/contracts';
import type { Principal, Sql } from '@orders/platform';
import { newId } from '../../ids';
import { findEndpoint, type MessageRow, notFound, toMessage } from './rows';

export class WebhookDeliveries {
  constructor(private readonly sql: Sql) {}

  async sendTest(principal: Principal, id: string) {
    await findEndpoint(this.sql, principal, id);
    const payload: WebhookPayload = {
      type: WEBHOOK_TEST_EVENT,
      timestamp: new Date().toISOString(),
      data: { message: 'A test event from the order platform.' },
    };
    const [row] = await this.sql<{ id: string }[]>`
      INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, payload)
      VALUES (${newId()}, ${id}, ${newId()}, ${WEBHOOK_TEST_EVENT}, ${this.sql.json(payload as never)})
      RETURNING id`;
    await this.sql`SELECT pg_notify('webhooks', '')`;
    return { messageId: row?.id, count: 1 };
  }

  /** Newest first, by sequence; filtered by status. */
  async list(principal: Principal, id: string, q: { limit?: number; cursor?: string; status?: string }) {
    await findEndpoint(this.sql, principal, id);
    const limit = q.limit ?? 20;
    const rows = await this.sql<MessageRow[]>`
      SELECT id, seq, event_type, order_id, status, attempts, next_attempt_at, last_status_code, last_error, created_at
      FROM webhook_messages
      WHERE endpoint_id = ${id} ${q.status ? this.sql`AND status = ${q.status}` : this.sql``}
        ${q.cursor ? this.sql`AND seq < ${q.cursor}` : this.sql``}
      ORDER BY seq DESC LIMIT ${limit + 1}`;
    const page = rows.slice(0, limit);
    return { items: page.map(toMessage), nextCursor: rows.length > limit ? String(page[page.length - 1]?.seq) : null };
  }

  /** One message with its payload and every attempt. */
  async get(principal: Principal, id: string, messageId: string) {
    await findEndpoint(this.sql, principal, id);
    const [m] = await this.sql<MessageRow[]>`
      SELECT id, seq, event_type, order_id, status, attempts, next_attempt_at, last_status_code, last_error, created_at, payload
      FROM webhook_messages WHERE id = ${messageId} AND endpoint_id = ${id}`;
    if (!m) throw notFound('delivery', messageId);
    const attempts = await this.sql<
      {
        attempt: number;
        started_at: Date;
        duration_ms: number;
        status_code: number | null;
        error: string | null;
        response_body: string | null;
        outcome: 'succeeded' | 'failed';
      }[]
    >`SELECT attempt, started_at, duration_ms, status_code, error, response_body, outcome
      FROM webhook_attempts WHERE message_id = ${messageId} ORDER BY id`;
    return {
      ...toMessage(m),
      payload: m.payload,
      history: attempts.map((a) => ({
        attempt: a.attempt,
        startedAt: a.started_at.toISOString(),
        durationMs: a.duration_ms,
        statusCode: a.status_code,
        error: a.error,
        responseBody: a.response_body,
        outcome: a.outcome,
      })),
    };
  }

  /** Sends one message again from the start of the schedule (a succeeded one too: the owner asked). */
  async redeliver(principal: Principal, id: string, messageId: string) {
    await findEndpoint(this.sql, principal, id);
    const done = await this.sql`
      UPDATE webhook_messages SET status = 'pending', attempts = 0, next_attempt_at = now(), leased_until = NULL, updated_at = now()
      WHERE id = ${messageId} AND endpoint_id = ${id} AND status <> 'pending'`;
    if (done.count === 0) {
      const [exists] = await this.sql`SELECT 1 FROM webhook_messages WHERE id = ${messageId} AND endpoint_id = ${id}`;
      if (!exists) throw notFound('delivery', messageId);
    }
    await this.sql`SELECT pg_notify('webhooks', '')`;
    return { messageId, count: done.count };
  }

  /** Every failed message created since `since`, again from the start of the schedule. */
  async redeliverFailed(principal: Principal, id: string, since: string) {
    await findEndpoint(this.sql, principal, id);
    const done = await this.sql`
      UPDATE webhook_messages SET status = 'pending', attempts = 0, next_attempt_at = now(), leased_until = NULL, updated_at = now()
      WHERE endpoint_id = ${id} AND status = 'failed' AND created_at >= ${new Date(since)}`;
    await this.sql`SELECT pg_notify('webhooks', '')`;
    return { count: done.count };
  }
}
