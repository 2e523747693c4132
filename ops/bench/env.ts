/**
 * Reading a benchmark's settings: each bench declares the variables it reads (with their defaults) in one
 * spec at its top, built from the platform's field helpers, and `benchEnv` validates them all before
 * anything starts, so a typo or a bad number stops the run at once with every problem named (not half an
 * hour into a soak). Nothing else in ops/bench reads `process.env`.
 */
import { ConfigError, type Field, int, list, type Parsed, parseEnv, type Spec } from '@orders/platform/config/env';

export { int, num, oneOf, port, str } from '@orders/platform/config/env';

/** The closed-loop load generator's settings, the same in every bench that runs autocannon. */
export const autocannonSpec = {
  /** Per scenario (after any warm-up). */
  BENCH_SECONDS: int({ default: 10, min: 1 }),
  BENCH_CONNECTIONS: int({ default: 64, min: 1 }),
} satisfies Spec;

/** Parses `spec` from the environment; on a bad value prints every problem and exits 2. */
export function benchEnv<S extends Spec>(spec: S, source: Record<string, string | undefined> = process.env): Parsed<S> {
  try {
    return parseEnv(spec, source);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`[bench] ${err.message}\n`);
    process.exit(2);
  }
}

/**
 * A comma-separated list whose every item is checked by `item` (rates: `listOf(num({ above: 0 }), [10, 30])`).
 * A bad item fails the whole variable, naming the rule it broke.
 */
export function listOf<T>(item: Field<T>, defaults: readonly T[]): Field<T[]> {
  const items = list({ default: defaults.map(String) });
  return { parse: (raw, name) => items.parse(raw, name).map((s) => item.parse(s, name)) };
}
