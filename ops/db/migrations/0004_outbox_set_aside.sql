-- An outbox row that cannot be encoded is set aside by its `last_error` alone: the `attempts` counter
-- was never counted up (a failed send is retried as a whole batch, not per row), only set to a maximum
-- that a configuration change could have lowered or raised under it.
ALTER TABLE outbox DROP COLUMN attempts;
CREATE INDEX outbox_pending_idx ON outbox (id) WHERE last_error IS NULL;
