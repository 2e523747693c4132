/**
 * Tries `work` until it succeeds or the process is stopping, with capped exponential backoff between
 * attempts: for work that must not be given up (committed outputs must go out, a failed message must
 * reach its retry or dead-letter topic, a batch must not be skipped). Resolves true once done, false
 * when stopping got in the way: the caller leaves the offset unstored and the message comes again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@orders/platform';

export async function untilDone(
  work: () => Promise<unknown>,
  o: { isStopping: () => boolean; logger: Logger; what: string; baseMs: number; maxMs: number; onFailure?: () => void },
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await work();
      return true;
    } catch (err) {
      if (o.isStopping()) return false;
      o.onFailure?.();
      o.logger.error({ err, attempt }, `${o.what} failed; trying again`);
      await sleep(Math.min(o.baseMs * 2 ** (attempt - 1), o.maxMs));
    }
  }
}
