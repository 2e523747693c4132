/**
 * Periodic clean-up of what expires: idempotency records past their retention and refresh tokens past
 * their expiry. Safe with several gateway instances (plain deletes of expired rows), bounded per run so
 * a large backlog never holds long locks.
 */
import type { Logger, Sql } from '@orders/platform';

export function startMaintenance(sql: Sql, logger: Logger, intervalMs = 10 * 60_000): () => Promise<void> {
  let running: Promise<void> | undefined;
  const run = async () => {
    try {
      const keys = await sql`
        DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT 10000)`;
      const tokens = await sql`
        DELETE FROM refresh_tokens WHERE ctid IN (SELECT ctid FROM refresh_tokens WHERE expires_at < now() - interval '1 day' LIMIT 10000)`;
      if (keys.count + tokens.count > 0)
        logger.info({ idempotencyKeys: keys.count, refreshTokens: tokens.count }, 'expired records removed');
    } catch (err) {
      logger.warn({ err }, 'maintenance run failed; will retry');
    }
  };
  const timer = setInterval(() => {
    if (!running) running = run().finally(() => (running = undefined));
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}
