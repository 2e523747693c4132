-- Accounts, refresh tokens, idempotency keys, and the order's content revision.

-- Failed logins lock an account for a while (counted per account; per-IP limits live in the rate limiter).
ALTER TABLE users
  ADD COLUMN failed_logins integer NOT NULL DEFAULT 0,
  ADD COLUMN locked_until  timestamptz;

-- Opaque refresh tokens, stored as SHA-256 of the token (high-entropy secrets need no slow hash).
-- Every refresh rotates: the used token records its successor. Presenting a used token again means it
-- leaked, and revokes the whole family (every token descended from the same login).
CREATE TABLE refresh_tokens (
  id          uuid PRIMARY KEY,
  family_id   uuid NOT NULL,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash  bytea NOT NULL UNIQUE,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  replaced_by uuid,
  revoked_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expiry_idx ON refresh_tokens (expires_at);

-- `Idempotency-Key` records: written in the same transaction as the order they created, so a key is
-- never recorded for an order that does not exist (or the other way round). Kept at least 24 h.
CREATE TABLE idempotency_keys (
  user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  key             text NOT NULL,
  request_hash    bytea NOT NULL,
  response_status smallint NOT NULL,
  response_body   jsonb NOT NULL,
  resource_id     uuid,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

-- The order's content revision: bumped when the customer changes lines or payment method (while
-- pending), not by status changes. Verdicts (validated/rejected) name the revision they judged, so a
-- verdict on an outdated revision is not applied.
ALTER TABLE orders ADD COLUMN revision integer NOT NULL DEFAULT 1;

-- Keyset pagination of one customer's orders filtered by status.
CREATE INDEX orders_user_status_created_idx ON orders (user_id, status, created_at DESC, id DESC);
-- The admin list (all orders, newest first).
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
