/**
 * Test support shared by every package's suites (Bun's and Node's test runners alike): waiting on a
 * condition instead of sleeping for a guessed time. Not used by production code.
 */

export interface EventuallyOptions {
  /** Give up after this long (default 5 s). */
  timeoutMs?: number;
  /** Named in the error on timeout: what was being waited for. */
  what: string;
  /** Pause between probes (default 25 ms). */
  everyMs?: number;
}

/**
 * Calls `probe` until it returns a value that is not `undefined`, `null` or `false`, and returns that
 * value. A probe that throws counts as "not yet"; on timeout the error names `what` and carries the last
 * thrown error, so a test never passes (or hangs) silently.
 */
export async function eventually<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: EventuallyOptions,
): Promise<T> {
  const { timeoutMs = 5_000, what, everyMs = 25 } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError === undefined ? '' : `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
