-- The dead-letter index (#18): one row per message on a stage's dead-letter topic, written by the
-- gateway's indexer (gateway/src/dlq/indexer.ts) before it commits the message's offset, so an operator
-- can list, inspect and replay dead letters without reading Kafka. The Kafka coordinates are the key:
-- indexing a message again (a redelivery, a second gateway) adds nothing.
CREATE TABLE dead_letters (
  id                 uuid PRIMARY KEY,
  -- The topics' namespace ('' in production; the test suites use their own), and where the message is.
  namespace          text NOT NULL DEFAULT '',
  topic              text NOT NULL,
  kafka_partition    integer NOT NULL,
  kafka_offset       bigint NOT NULL,
  -- Which stage dead-lettered it: the stage name (payment) and its consumer group (orders.payment).
  stage              text NOT NULL,
  consumer_group     text NOT NULL,
  -- From the message as the router wrote it; null when a header was missing or malformed.
  event_id           text,
  event_type         text,
  order_id           text,
  error_code         text,
  error_reason       text,
  attempts           integer,
  original_topic     text,
  original_partition integer,
  original_offset    bigint,
  headers            jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Key and payload exactly as they were on the topic (a replay sends them back): never decoded to index.
  key                bytea,
  value              bytea,
  dead_lettered_at   timestamptz NOT NULL,
  indexed_at         timestamptz NOT NULL DEFAULT now(),
  replayed_at        timestamptz,
  replayed_by        uuid,
  UNIQUE (topic, kafka_partition, kafka_offset),
  CHECK ((replayed_at IS NULL) = (replayed_by IS NULL))
);
-- Newest first, overall, by stage and by order (keyset pagination on dead_lettered_at, id).
CREATE INDEX dead_letters_newest_idx ON dead_letters (namespace, dead_lettered_at DESC, id DESC);
CREATE INDEX dead_letters_stage_idx ON dead_letters (namespace, stage, dead_lettered_at DESC, id DESC);
CREATE INDEX dead_letters_order_idx ON dead_letters (order_id, dead_lettered_at DESC, id DESC) WHERE order_id IS NOT NULL;
