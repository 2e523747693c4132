-- What the pipeline stages own: payments (with refunds), stock reservations, shipments.

-- One authorization per order revision at most; its refund recorded on the same row.
CREATE TABLE payments (
  id               uuid PRIMARY KEY,
  order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  provider_charge  text NOT NULL UNIQUE,
  amount_cents     bigint NOT NULL CHECK (amount_cents >= 0),
  currency         char(3) NOT NULL,
  status           text NOT NULL CHECK (status IN ('authorized', 'refunded')),
  provider_refund  text,
  refund_reason    text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  refunded_at      timestamptz
);
CREATE UNIQUE INDEX payments_order_idx ON payments (order_id);

-- Stock taken from products for an order; released (returned) by a compensation.
CREATE TABLE reservations (
  id          uuid PRIMARY KEY,
  order_id    uuid NOT NULL UNIQUE REFERENCES orders (id) ON DELETE CASCADE,
  lines       jsonb NOT NULL,
  status      text NOT NULL CHECK (status IN ('reserved', 'released')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  released_at timestamptz,
  release_reason text
);

CREATE TABLE shipments (
  id              uuid PRIMARY KEY,
  order_id        uuid NOT NULL UNIQUE REFERENCES orders (id) ON DELETE CASCADE,
  carrier         text NOT NULL,
  tracking_number text NOT NULL UNIQUE,
  created_at      timestamptz NOT NULL DEFAULT now()
);
