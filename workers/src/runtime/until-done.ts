/**
 * Tries `work` until it succeeds or the process is stopping, with capped exponential backoff between
 * attempts: for work that must not be given up (committed outputs must go out, a failed message must
 * reach its retry or dead-letter topic, a batch must not be skipped). Resolves true once done, false
 * when stopping got in the way: the caller leaves the offset unstored and the message comes again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@orders/platform';

export interface UntilDoneOptions {
  isStopping: () => boolean;
  logger: Logger;
  /** Named in the log line of each failure. */
  what: string;
  /** The backoff: base × 2^(attempt-1), capped at max. */
  baseMs: number;
  maxMs: number;
  onFailure?: () => void;
}

export async function untilDone(
  work: () => Promise<unknown>,
  { isStopping, logger, what, baseMs, maxMs, onFailure }: UntilDoneOptions,
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await work();
      return true;
    } catch (err) {
      if (isStopping()) return false;
      onFailure?.();
      logger.error({ err, attempt }, `${what} failed; trying again`);
      await sleep(Math.min(baseMs * 2 ** (attempt - 1), maxMs));
    }
  }
}
