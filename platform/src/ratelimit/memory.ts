/**
 * The per-process fallback used while Redis is unreachable: the same exact sliding log, in memory.
 * Each gateway instance then enforces the limits on its own share of the traffic (over-admission up to
 * the number of instances), which is the documented price of staying up.
 */
import type { Rule } from './config';

export class MemoryLimiter {
  private readonly logs = new Map<string, number[]>();

  constructor(private readonly maxKeys = 100_000) {}

  /** Forgets every key (the limiter is back on Redis). */
  clear(): void {
    this.logs.clear();
  }

  /** Same contract as the Lua script: [allowed, now, binding index (1-based), ...(count, resetMs) per key]. */
  check(keys: string[], rules: Rule[], now = Date.now()): number[] {
    const logs = keys.map((k, i) => {
      let log = this.logs.get(k);
      if (!log) {
        if (this.logs.size >= this.maxKeys) this.logs.delete(this.logs.keys().next().value as string);
        log = [];
        this.logs.set(k, log);
      }
      const window = (rules[i] as Rule).windowMs;
      let drop = 0;
      while (drop < log.length && (log[drop] as number) <= now - window) drop++;
      if (drop > 0) log.splice(0, drop);
      return log;
    });
    const allowed = logs.every((log, i) => log.length < (rules[i] as Rule).limit);
    // The binding key: the fewest slots left, the first of equals (as in the script).
    let binding = 0;
    logs.forEach((log, i) => {
      const left = (rules[i] as Rule).limit - log.length;
      if (left < (rules[binding] as Rule).limit - (logs[binding] as number[]).length) binding = i;
    });
    const out = [allowed ? 1 : 0, now, binding + 1];
    logs.forEach((log, i) => {
      if (allowed) log.push(now);
      const window = (rules[i] as Rule).windowMs;
      out.push(log.length, log.length > 0 ? (log[0] as number) + window - now : window);
    });
    return out;
  }
}
