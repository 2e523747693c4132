-- Who changed what, for every administrative action: product changes and cancelling another
-- customer's order (PCI DSS requirement 10, audit trails; SECURITY.md). Written in the same
-- transaction as the change; appended, never updated or deleted by the application.
CREATE TABLE admin_audit (
  id        bigserial PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  actor_id  uuid NOT NULL,
  action    text NOT NULL,
  target    text NOT NULL,
  detail    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX admin_audit_at_idx ON admin_audit (at);
CREATE INDEX admin_audit_actor_idx ON admin_audit (actor_id, at);
