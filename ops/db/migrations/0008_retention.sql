-- Retention (gateway/src/retention.ts): finished webhook messages are removed by age, oldest first; and
-- the tables with the most churn get autovacuum settings that keep up with it, so the space that
-- deletions free is reused instead of the tables growing (the defaults wait for 20 % of a table to be
-- dead before vacuuming, which on a large processed_events is millions of rows).
CREATE INDEX webhook_messages_finished_idx ON webhook_messages (updated_at) WHERE status <> 'pending';

ALTER TABLE processed_events SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05,
  autovacuum_vacuum_cost_limit = 2000);
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 5000,
  autovacuum_vacuum_cost_limit = 2000);
ALTER TABLE webhook_messages SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_cost_limit = 2000);
ALTER TABLE webhook_attempts SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_cost_limit = 2000);
ALTER TABLE idempotency_keys SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_cost_limit = 2000);
