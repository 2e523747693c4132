-- Webhook endpoint options (#18): custom headers sent with every delivery, and a per-endpoint rate limit
-- that every dispatcher honours.
--
-- headers_sealed: the set as JSON ({"name": "value"}, names lower-case), sealed like the signing secret
-- (SecretBox, AES-256-GCM): values may be credentials for the customer's receiver. NULL: no headers.
-- rate_limit_per_second: NULL is unlimited.
-- rate_slots: the deliveries the claim (workers/src/stages/webhooks/rate.ts) took in the last second or so,
-- as [[slot, count], ...] with slot = epoch milliseconds / 100; written in the claim's own transaction while
-- it holds the endpoint's row, so dispatchers never overrun the limit together. Only rate-limited endpoints
-- are ever written.
ALTER TABLE webhook_endpoints
  ADD COLUMN headers_sealed        text,
  ADD COLUMN rate_limit_per_second integer CHECK (rate_limit_per_second BETWEEN 1 AND 1000),
  ADD COLUMN rate_slots            jsonb NOT NULL DEFAULT '[]'::jsonb;
