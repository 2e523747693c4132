/**
 * What every scenario gets (the parsed command line, the target, the API client, the run's id) and what
 * it gives back: the parts of summary.json that are its own. `PreconditionError` is a scenario saying
 * what it needs and does not have (an admin token, a local target): the tool exits 2 with that text.
 */

import type { Api } from '../api/client';
import type { Admin, Pool } from '../api/users';
import type { Args } from '../args';
import type { LoadtestEnv } from '../env';
import type { Summary } from '../report/model';
import type { Target } from '../target';

export interface Context {
  args: Args;
  target: Target;
  env: LoadtestEnv;
  api: Api;
  /** Short and unique: users, SKUs and endpoints made by this run carry it. */
  runId: string;
  /** Make the run's users with dev tokens (offered, and not refused with --users register). */
  devTokens: boolean;
  /** The target mints dev tokens (an admin's for set-up, too). */
  devTokensOffered: boolean;
  signal: AbortSignal;
  log(message: string): void;
}

export type ScenarioOutput = Pick<
  Summary,
  'settings' | 'totals' | 'perSecond' | 'targets' | 'charts' | 'tables' | 'scenarioData' | 'notes' | 'metrics' | 'durationS'
> & {
  startedAt: string;
  users: Pool | null;
  userTier: string;
  admin: Admin | null;
  closedLoop: string | null;
  generatorLatenessMs: Summary['engine']['generatorLatenessMs'];
};

export interface Scenario {
  name: string;
  run(ctx: Context): Promise<ScenarioOutput>;
}

export class PreconditionError extends Error {}

/** Weighted choice: `pick({ a: 3, b: 1 })` is "a" three times in four. */
export function weighted<K extends string>(weights: Record<K, number>, r = Math.random()): K {
  const entries = Object.entries(weights) as [K, number][];
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let x = r * total;
  for (const [k, w] of entries) {
    x -= w;
    if (x < 0) return k;
  }
  return (entries[entries.length - 1] as [K, number])[0];
}

export function randomItem<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T;
}
