/**
 * What the soak watches for growth, sampled every 10 s: each process's resident memory, the size and rows
 * of the retained tables (which retention must keep flat) and of the business tables (which grow by
 * design), Redis memory, and the Kafka log size of the run's topics.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type postgres from 'postgres';

export const MiB = 1024 * 1024;

export const RETAINED = ['processed_events', 'webhook_messages', 'webhook_attempts', 'outbox'] as const;
export const BUSINESS = ['orders', 'order_items', 'order_status_history', 'idempotency_keys'] as const;

export interface Sample {
  t: number;
  rss: Record<string, number>;
  tables: Record<string, { bytes: number; rows: number }>;
  redis: number;
  kafka: number;
}

/** Resident memory of a process, in bytes (0 once it has gone). */
function rss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Bytes on disk of the run's topics in the broker's log directory. */
function kafkaBytes(dataDir: string, namespace: string): number {
  const dir = join(dataDir, 'kafka');
  const mine = readdirSync(dir).filter((d) => d.startsWith(`${namespace}.`));
  if (mine.length === 0) return 0;
  // Blocks in use, not apparent sizes: Kafka preallocates its index files sparsely (10 MB each).
  const text = execFileSync('du', ['-skc', ...mine], { cwd: dir, encoding: 'utf8' });
  return Number(/(\d+)\s+total/.exec(text)?.[1] ?? 0) * 1024;
}

function redisBytes(redisPort: number): number {
  const text = execFileSync('redis-cli', ['-p', String(redisPort), 'info', 'memory'], { encoding: 'utf8' });
  return Number(/used_memory:(\d+)/.exec(text)?.[1] ?? 0);
}

/** A sampler for the run: `sample(t)` reads everything at once, `t` being ms since the start. */
export function sampler(
  sql: postgres.Sql,
  o: { dataDir: string; redisPort: number; namespace: string; pids: Record<string, number> },
): (t: number) => Promise<Sample> {
  return async (t) => {
    const rows = await sql<{ name: string; bytes: string; rows: number }[]>`
      SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes,
             (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I', c.relname), false, true, '')))[1]::text::int AS rows
      FROM pg_class c WHERE c.relname = ANY(${[...RETAINED, ...BUSINESS]}) AND c.relkind IN ('r', 'p')`;
    return {
      t,
      rss: Object.fromEntries(Object.entries(o.pids).map(([name, pid]) => [name, rss(pid)])),
      tables: Object.fromEntries(rows.map((r) => [r.name, { bytes: Number(r.bytes), rows: r.rows }])),
      redis: redisBytes(o.redisPort),
      kafka: kafkaBytes(o.dataDir, o.namespace),
    };
  };
}

/** The state retention is meant to bound: the retained tables, Redis and Kafka, in bytes. */
export const retainedBytes = (s: Sample) => RETAINED.reduce((sum, t) => sum + (s.tables[t]?.bytes ?? 0), 0) + s.redis + s.kafka;
