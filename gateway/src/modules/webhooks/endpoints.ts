/**
 * Webhook endpoints, owner-scoped: registration (the URL checked against the destination policy, where
 * it resolves included), reads, changes, pause and resume, secret rotation. Secrets are generated here,
 * shown once, and stored sealed; the dispatcher (workers) opens them to sign. Custom headers and the rate
 * limit are checked and sealed by options.ts.
 */
import {
  type DestinationPolicy,
  generateSecret,
  type Logger,
  type Principal,
  type SecretBox,
  type Sql,
  UnsafeDestinationError,
} from '@orders/platform';
import { GatewayErrorCodes } from '../../error-codes';
import { DomainError } from '../../errors';
import { newId } from '../../ids';
import { type HealthRow, withHealth } from './health';
import type { CreateEndpointBody, EndpointView, UpdateEndpointBody } from './model';
import { checkOptions, viewHeaders } from './options';
import { ENDPOINT_COLUMNS, type EndpointRow, findEndpoint, iso, notFound, ownerFilter, toView } from './rows';

export class WebhookEndpoints {
  constructor(
    private readonly sql: Sql,
    private readonly box: SecretBox,
    private readonly policy: DestinationPolicy,
    private readonly overlapSeconds: number,
    private readonly logger: Logger,
  ) {}

  /** The URL's form, then where it resolves to: refused with a clear 422 rather than failing later. */
  private async checkUrl(raw: string): Promise<string> {
    try {
      const url = this.policy.checkUrl(raw);
      await this.policy.resolve(url.hostname);
      return url.toString();
    } catch (err) {
      if (err instanceof UnsafeDestinationError)
        throw new DomainError(
          'unprocessable',
          GatewayErrorCodes.webhookUrlRefused,
          'URL refused',
          `The webhook URL is refused: ${err.message}.`,
          {
            errors: [{ field: 'url', message: err.message }],
          },
        );
      throw err;
    }
  }

  private view(principal: Principal, row: EndpointRow & HealthRow): EndpointView {
    return toView(row, viewHeaders(this.box, principal, row, this.logger));
  }

  async create(principal: Principal, body: CreateEndpointBody): Promise<EndpointView & { secret: string }> {
    const options = checkOptions(this.box, body);
    const url = await this.checkUrl(body.url);
    const secret = generateSecret();
    const [row] = await withHealth(
      this.sql,
      this.sql`
      INSERT INTO webhook_endpoints (id, user_id, url, description, event_types, ordered, secret_sealed, headers_sealed, rate_limit_per_second)
      VALUES (${newId()}, ${principal.userId}, ${url}, ${body.description ?? ''}, ${body.eventTypes}, ${body.ordered ?? false},
              ${this.box.seal(secret)}, ${options.headersSealed ?? null}, ${options.rateLimitPerSecond ?? null})
      RETURNING ${this.sql.unsafe(ENDPOINT_COLUMNS)}`,
    );
    return { ...this.view(principal, row as EndpointRow & HealthRow), secret };
  }

  async list(principal: Principal, limit: number, cursor?: string) {
    // The page is chosen first (in the CTE), so only its endpoints' health is read.
    const rows = await withHealth(
      this.sql,
      this.sql`
      SELECT ${this.sql.unsafe(ENDPOINT_COLUMNS)} FROM webhook_endpoints
      WHERE true ${ownerFilter(this.sql, principal)} ${cursor ? this.sql`AND id < ${cursor}` : this.sql``}
      ORDER BY id DESC LIMIT ${limit + 1}`,
    );
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => this.view(principal, r)),
      nextCursor: rows.length > limit ? (page[page.length - 1]?.id ?? null) : null,
    };
  }

  async get(principal: Principal, id: string): Promise<EndpointView> {
    const [row] = await withHealth(
      this.sql,
      this.sql`SELECT ${this.sql.unsafe(ENDPOINT_COLUMNS)} FROM webhook_endpoints WHERE id = ${id} ${ownerFilter(this.sql, principal)}`,
    );
    if (!row) throw notFound('webhook endpoint', id);
    return this.view(principal, row);
  }

  async update(principal: Principal, id: string, body: UpdateEndpointBody): Promise<EndpointView> {
    const ep = await findEndpoint(this.sql, principal, id);
    // Where deliveries go and the headers they carry (possibly the customer's credentials) are the
    // owner's alone: an admin who could change either could send those headers to a URL of their own.
    if (ep.user_id !== principal.userId && (body.url !== undefined || body.headers !== undefined))
      throw new DomainError(
        'forbidden',
        GatewayErrorCodes.forbidden,
        'Forbidden',
        'Only the endpoint’s owner may change its url or headers.',
      );
    const options = checkOptions(this.box, body);
    const url = body.url === undefined ? undefined : await this.checkUrl(body.url);
    // Both options may be set to null (no headers, unlimited): "given" is told apart from "left out".
    const headersGiven = options.headersSealed !== undefined;
    const rateGiven = options.rateLimitPerSecond !== undefined;
    const [row] = await withHealth(
      this.sql,
      this.sql`
      UPDATE webhook_endpoints SET
        url = coalesce(${url ?? null}, url),
        description = coalesce(${body.description ?? null}, description),
        event_types = coalesce(${body.eventTypes ?? null}::text[], event_types),
        ordered = coalesce(${body.ordered ?? null}, ordered),
        headers_sealed = CASE WHEN ${headersGiven} THEN ${options.headersSealed ?? null}::text ELSE headers_sealed END,
        rate_limit_per_second = CASE WHEN ${rateGiven} THEN ${options.rateLimitPerSecond ?? null}::integer ELSE rate_limit_per_second END,
        version = version + 1, updated_at = now()
      WHERE id = ${id} ${ownerFilter(this.sql, principal)}
      RETURNING ${this.sql.unsafe(ENDPOINT_COLUMNS)}`,
    );
    if (!row) throw notFound('webhook endpoint', id);
    return this.view(principal, row);
  }

  async remove(principal: Principal, id: string): Promise<void> {
    const gone = await this.sql`DELETE FROM webhook_endpoints WHERE id = ${id} ${ownerFilter(this.sql, principal)}`;
    if (gone.count === 0) throw notFound('webhook endpoint', id);
  }

  /** Paused: messages keep collecting and go out on resume. Resume also re-enables a disabled endpoint. */
  async setStatus(principal: Principal, id: string, to: 'paused' | 'active'): Promise<EndpointView> {
    const ep = await findEndpoint(this.sql, principal, id);
    if (to === 'paused' && ep.status === 'disabled')
      throw new DomainError(
        'conflict',
        GatewayErrorCodes.webhookDisabled,
        'Endpoint disabled',
        `It was disabled (${ep.disabled_reason}); resume it instead.`,
      );
    const [row] = await withHealth(
      this.sql,
      this.sql`
      UPDATE webhook_endpoints SET status = ${to},
        disabled_reason = NULL,
        consecutive_failures = CASE WHEN ${to} = 'active' THEN 0 ELSE consecutive_failures END,
        failing_since = CASE WHEN ${to} = 'active' THEN NULL ELSE failing_since END,
        blocked_until = CASE WHEN ${to} = 'active' THEN NULL ELSE blocked_until END,
        version = version + 1, updated_at = now()
      WHERE id = ${id}
      RETURNING ${this.sql.unsafe(ENDPOINT_COLUMNS)}`,
    );
    if (!row) throw notFound('webhook endpoint', id);
    if (to === 'active') await this.sql`SELECT pg_notify('webhooks', '')`;
    return this.view(principal, row);
  }

  /** A new secret; the old one keeps signing (a second signature) for the overlap. */
  async rotate(principal: Principal, id: string, overlapSeconds = this.overlapSeconds) {
    await findEndpoint(this.sql, principal, id);
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
}
