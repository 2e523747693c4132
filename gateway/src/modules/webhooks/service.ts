/**
 * Webhook endpoints and their deliveries, owner-scoped: a customer sees only their own endpoints (another
 * user's is indistinguishable from none), an admin everyone's. Secrets are generated here, shown once, and
 * stored sealed; the dispatcher (workers) opens them to sign.
 */
import { randomUUID } from 'node:crypto';
import { WEBHOOK_TEST_EVENT, type WebhookPayload } from '@orders/contracts';
import {
  type DestinationPolicy,
  generateSecret,
  HttpError,
  type Principal,
  type SecretBox,
  type Sql,
  UnsafeDestinationError,
  uuidv7,
} from '@orders/platform';
import type { CreateEndpointBody, EndpointView, MessageView, UpdateEndpointBody } from './model';

interface EndpointRow {
  id: string;
  user_id: string;
  url: string;
  description: string;
  event_types: string[];
  ordered: boolean;
  status: 'active' | 'paused' | 'disabled';
  disabled_reason: string | null;
  consecutive_failures: number;
  failing_since: Date | null;
  previous_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

interface MessageRow {
  id: string;
  seq: string;
  event_type: string;
  order_id: string | null;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  payload?: unknown;
}

const ENDPOINT_COLUMNS = `id, user_id, url, description, event_types, ordered, status, disabled_reason, consecutive_failures,
  failing_since, CASE WHEN previous_expires_at > now() THEN previous_expires_at END AS previous_expires_at, created_at, updated_at`;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toView(r: EndpointRow): EndpointView {
  return {
    id: r.id,
    userId: r.user_id,
    url: r.url,
    description: r.description,
    eventTypes: r.event_types,
    ordered: r.ordered,
    status: r.status,
    disabledReason: r.disabled_reason,
    consecutiveFailures: r.consecutive_failures,
    failingSince: iso(r.failing_since),
    previousSecretExpiresAt: iso(r.previous_expires_at),
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

function toMessage(r: MessageRow): MessageView {
  return {
    id: r.id,
    webhookId: `msg_${r.id.replaceAll('-', '')}`,
    eventType: r.event_type,
    orderId: r.order_id,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.status === 'pending' ? r.next_attempt_at.toISOString() : null,
    lastStatusCode: r.last_status_code,
    lastError: r.last_error,
    createdAt: r.created_at.toISOString(),
  };
}

const notFound = (what: string, id: string) => new HttpError(404, 'WEBHOOK_NOT_FOUND', 'Not found', `No ${what} ${id}.`);

export class WebhooksService {
  constructor(
    private readonly sql: Sql,
    private readonly box: SecretBox,
    private readonly policy: DestinationPolicy,
    private readonly overlapSeconds: number,
  ) {}

  /** The URL's form, then where it resolves to: refused with a clear 422 rather than failing later. */
  private async checkUrl(raw: string): Promise<string> {
    try {
      const url = this.policy.checkUrl(raw);
      await this.policy.resolve(url.hostname);
      return url.toString();
    } catch (err) {
      if (err instanceof UnsafeDestinationError)
        throw new HttpError(422, 'WEBHOOK_URL_REFUSED', 'URL refused', `The webhook URL is refused: ${err.message}.`, {
          errors: [{ field: 'url', message: err.message }],
        });
      throw err;
    }
  }

  private owner(principal: Principal) {
    return principal.role === 'admin' ? this.sql`` : this.sql`AND user_id = ${principal.userId}`;
  }

  private async endpoint(principal: Principal, id: string): Promise<EndpointRow> {
    const [row] = await this.sql<EndpointRow[]>`
      SELECT ${this.sql.unsafe(ENDPOINT_COLUMNS)} FROM webhook_endpoints WHERE id = ${id} ${this.owner(principal)}`;
    if (!row) throw notFound('webhook endpoint', id);
    return row;
  }

  async create(principal: Principal, body: CreateEndpointBody): Promise<EndpointView & { secret: string }> {
    const url = await this.checkUrl(body.url);
    const secret = generateSecret();
    const [row] = await this.sql<EndpointRow[]>`
      INSERT INTO webhook_endpoints (id, user_id, url, description, event_types, ordered, secret_sealed)
      VALUES (${uuidv7()}, ${principal.userId}, ${url}, ${body.description ?? ''}, ${body.eventTypes}, ${body.ordered ?? false},
              ${this.box.seal(secret)})
      RETURNING ${this.sql.unsafe(ENDPOINT_COLUMNS)}`;
    return { ...toView(row as EndpointRow), secret };
  }

  async list(principal: Principal, limit: number, cursor?: string) {
    const rows = await this.sql<EndpointRow[]>`
      SELECT ${this.sql.unsafe(ENDPOINT_COLUMNS)} FROM webhook_endpoints
      WHERE true ${this.owner(principal)} ${cursor ? this.sql`AND id < ${cursor}` : this.sql``}
      ORDER BY id DESC LIMIT ${limit + 1}`;
    const page = rows.slice(0, limit);
    return { items: page.map(toView), nextCursor: rows.length > limit ? (page[page.length - 1]?.id ?? null) : null };
  }

  async get(principal: Principal, id: string): Promise<EndpointView> {
    return toView(await this.endpoint(principal, id));
  }

  async update(principal: Principal, id: string, body: UpdateEndpointBody): Promise<EndpointView> {
    await this.endpoint(principal, id);
    const url = body.url === undefined ? undefined : await this.checkUrl(body.url);
    const [row] = await this.sql<EndpointRow[]>`
      UPDATE webhook_endpoints SET
        url = coalesce(${url ?? null}, url),
        description = coalesce(${body.description ?? null}, description),
        event_types = coalesce(${body.eventTypes ?? null}::text[], event_types),
        ordered = coalesce(${body.ordered ?? null}, ordered),
        version = version + 1, updated_at = now()
      WHERE id = ${id} ${this.owner(principal)}
      RETURNING ${this.sql.unsafe(ENDPOINT_COLUMNS)}`;
    if (!row) throw notFound('webhook endpoint', id);
    return toView(row);
  }

  async remove(principal: Principal, id: string): Promise<void> {
    const gone = await this.sql`DELETE FROM webhook_endpoints WHERE id = ${id} ${this.owner(principal)}`;
    if (gone.count === 0) throw notFound('webhook endpoint', id);
  }

  /** Paused: messages keep collecting and go out on resume. Resume also re-enables a disabled endpoint. */
  async setStatus(principal: Principal, id: string, to: 'paused' | 'active'): Promise<EndpointView> {
    const ep = await this.endpoint(principal, id);
    if (to === 'paused' && ep.status === 'disabled')
      throw new HttpError(409, 'WEBHOOK_DISABLED', 'Endpoint disabled', `It was disabled (${ep.disabled_reason}); resume it instead.`);
    const [row] = await this.sql<EndpointRow[]>`
      UPDATE webhook_endpoints SET status = ${to},
        disabled_reason = NULL,
        consecutive_failures = CASE WHEN ${to} = 'active' THEN 0 ELSE consecutive_failures END,
        failing_since = CASE WHEN ${to} = 'active' THEN NULL ELSE failing_since END,
        blocked_until = CASE WHEN ${to} = 'active' THEN NULL ELSE blocked_until END,
        version = version + 1, updated_at = now()
      WHERE id = ${id}
      RETURNING ${this.sql.unsafe(ENDPOINT_COLUMNS)}`;
    if (!row) throw notFound('webhook endpoint', id);
    if (to === 'active') await this.sql`SELECT pg_notify('webhooks', '')`;
    return toView(row);
  }

  /** A new secret; the old one keeps signing (a second signature) for the overlap. */
  async rotate(principal: Principal, id: string, overlapSeconds = this.overlapSeconds) {
    await this.endpoint(principal, id);
    const secret = generateSecret();
    const [row] = await this.sql<{ previous_expires_at: Date | null }[]>`
      UPDATE webhook_endpoints SET
        previous_sealed = secret_sealed,
        previous_expires_at = now() + ${overlapSeconds} * interval '1 second',
        secret_sealed = ${this.box.seal(secret)},
        version = version + 1, updated_at = now()
      WHERE id = ${id}
      RETURNING CASE WHEN previous_expires_at > now() THEN previous_expires_at END AS previous_expires_at`;
    // Deleted meanwhile: the new secret was never stored, so it must not be handed out.
    if (!row) throw notFound('webhook endpoint', id);
    return { secret, previousSecretExpiresAt: iso(row.previous_expires_at) };
  }

  async sendTest(principal: Principal, id: string) {
    await this.endpoint(principal, id);
    const payload: WebhookPayload = {
      type: WEBHOOK_TEST_EVENT,
      timestamp: new Date().toISOString(),
      data: { message: 'A test event from the order platform.' },
    };
    const [row] = await this.sql<{ id: string }[]>`
      INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, payload)
      VALUES (${randomUUID()}, ${id}, ${randomUUID()}, ${WEBHOOK_TEST_EVENT}, ${this.sql.json(payload as never)})
      RETURNING id`;
    await this.sql`SELECT pg_notify('webhooks', '')`;
    return { messageId: row?.id, count: 1 };
  }

  async deliveries(principal: Principal, id: string, q: { limit?: number; cursor?: string; status?: string }) {
    await this.endpoint(principal, id);
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

  async delivery(principal: Principal, id: string, messageId: string) {
    await this.endpoint(principal, id);
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
    await this.endpoint(principal, id);
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
    await this.endpoint(principal, id);
    const done = await this.sql`
      UPDATE webhook_messages SET status = 'pending', attempts = 0, next_attempt_at = now(), leased_until = NULL, updated_at = now()
      WHERE endpoint_id = ${id} AND status = 'failed' AND created_at >= ${new Date(since)}`;
    await this.sql`SELECT pg_notify('webhooks', '')`;
    return { count: done.count };
  }
}
