-- Core tables of the order path: users, products, orders with items and status history, the
-- transactional outbox, and the consumers' processed-event records.

CREATE TABLE users (
  id            uuid PRIMARY KEY,
  email         text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
  password_hash text,
  role          text NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
  tier          text NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'standard', 'premium', 'enterprise')),
  -- The user's live-feed sequence: bumped by the status projector in the same transaction as each
  -- status change, so every update a browser receives has a gap-free, per-user number.
  feed_seq      bigint NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
  sku         text PRIMARY KEY CHECK (sku ~ '^[A-Z0-9][A-Z0-9-]{1,63}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  price_cents bigint NOT NULL CHECK (price_cents >= 0),
  currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  stock       integer NOT NULL CHECK (stock >= 0),
  active      boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
  id                   uuid PRIMARY KEY,
  user_id              uuid NOT NULL REFERENCES users (id),
  status               text NOT NULL CHECK (status IN ('pending', 'validated', 'paid', 'reserved', 'shipped', 'cancelled', 'rejected', 'failed')),
  status_reason        text,
  currency             char(3) NOT NULL,
  total_cents          bigint NOT NULL CHECK (total_cents >= 0),
  -- A provider-issued token (never card data); the payment stage charges it.
  payment_method_token text,
  -- Optimistic concurrency: bumped by every change; `If-Match` compares with it.
  version              integer NOT NULL DEFAULT 1,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);
-- A customer's orders, newest first (list with cursor pagination).
CREATE INDEX orders_user_created_idx ON orders (user_id, created_at DESC, id DESC);

CREATE TABLE order_items (
  order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  line_no          smallint NOT NULL CHECK (line_no >= 1),
  sku              text NOT NULL REFERENCES products (sku),
  quantity         integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
  unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
  PRIMARY KEY (order_id, line_no)
);

CREATE TABLE order_status_history (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  order_id    uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  from_status text,
  to_status   text NOT NULL,
  reason      text,
  version     integer NOT NULL,
  -- The event that caused the change (null for the creation itself).
  event_id    uuid,
  occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, id);

-- Events waiting to be published to Kafka, written in the same transaction as the change they
-- describe. Rows are deleted once Kafka has acknowledged them, so the table only holds the backlog.
CREATE TABLE outbox (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id     uuid NOT NULL UNIQUE,
  event_type   text NOT NULL,
  aggregate_id uuid NOT NULL,
  payload      jsonb NOT NULL,
  headers      jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- A row that cannot be encoded (a bug, never a transient failure) is set aside with the reason,
  -- attempts at the maximum, instead of blocking the rows behind it.
  attempts     integer NOT NULL DEFAULT 0,
  last_error   text,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- What each consumer group has already applied, written in the same transaction as the effect, so a
-- redelivered event changes nothing. `outputs` keeps what the handler emitted, so a redelivery after a
-- crash between commit and publish re-sends exactly the same events (same ids).
CREATE TABLE processed_events (
  consumer_group text NOT NULL,
  event_id       uuid NOT NULL,
  event_type     text NOT NULL,
  outputs        jsonb NOT NULL DEFAULT '[]'::jsonb,
  processed_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, event_id)
);
CREATE INDEX processed_events_age_idx ON processed_events (processed_at);
