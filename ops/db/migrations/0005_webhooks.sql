-- Webhooks (#7): endpoints per user, one message per (endpoint, event) with its delivery schedule,
-- and every attempt made. The schedule lives here so it survives restarts and several dispatchers
-- share it (claims are leases taken with SKIP LOCKED).

CREATE TABLE webhook_endpoints (
  id                   uuid PRIMARY KEY,
  user_id              uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  url                  text NOT NULL CHECK (length(url) <= 2048),
  description          text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  event_types          text[] NOT NULL CHECK (cardinality(event_types) > 0),
  -- Per-order ordering: a message waits until the same order's earlier ones are done.
  ordered              boolean NOT NULL DEFAULT false,
  status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'disabled')),
  disabled_reason      text,
  -- Sealed (AES-256-GCM) secrets: the current one, and the previous one while a rotation overlaps.
  secret_sealed        text NOT NULL,
  previous_sealed      text,
  previous_expires_at  timestamptz,
  -- The circuit breaker: consecutive failed attempts, since when, and a pause after 429/503 or a run of failures.
  consecutive_failures integer NOT NULL DEFAULT 0,
  failing_since        timestamptz,
  blocked_until        timestamptz,
  version              integer NOT NULL DEFAULT 1,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_user_idx ON webhook_endpoints (user_id, created_at DESC);
CREATE INDEX webhook_endpoints_fanout_idx ON webhook_endpoints (user_id) WHERE status <> 'disabled';

CREATE TABLE webhook_messages (
  id               uuid PRIMARY KEY,
  seq              bigserial NOT NULL,
  endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  -- The source event (order.status_changed id, or the test request's id): one message per endpoint.
  event_id         uuid NOT NULL,
  event_type       text NOT NULL,
  order_id         uuid,
  payload          jsonb NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  -- A dispatcher's claim: until then nobody else sends it (a crashed dispatcher's claim runs out).
  leased_until     timestamptz,
  last_status_code integer,
  last_error       text,
  -- W3C trace context of the request that caused the event, sent on as the delivery's traceparent.
  traceparent      text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_messages_due_idx ON webhook_messages (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_messages_claim_idx ON webhook_messages (endpoint_id, seq) WHERE status = 'pending';
-- Leases in flight (set while a dispatcher sends, cleared when it records): the per-endpoint bound.
CREATE INDEX webhook_messages_leased_idx ON webhook_messages (endpoint_id) WHERE leased_until IS NOT NULL;
CREATE INDEX webhook_messages_endpoint_idx ON webhook_messages (endpoint_id, created_at DESC);
CREATE INDEX webhook_messages_order_idx ON webhook_messages (endpoint_id, order_id, seq) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
  id            bigserial PRIMARY KEY,
  message_id    uuid NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
  attempt       integer NOT NULL,
  started_at    timestamptz NOT NULL,
  duration_ms   integer NOT NULL,
  status_code   integer,
  error         text,
  response_body text,
  outcome       text NOT NULL CHECK (outcome IN ('succeeded', 'failed'))
);
CREATE INDEX webhook_attempts_message_idx ON webhook_attempts (message_id, id);
