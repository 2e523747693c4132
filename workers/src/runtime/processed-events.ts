/**
 * The processed-event records (`processed_events`): a consumer group's claim on an event id, written
 * with the outputs handling it emitted, so that a redelivered event is recognised and re-sends exactly
 * what its first delivery did (same event ids: downstream de-duplicates too).
 */
import type { Sql } from '@orders/platform';
import type { Output } from './stage';

export interface Claim {
  event_id: string;
  event_type: string;
  outputs: Output[];
}

/** What earlier deliveries of these events recorded (their outputs), by event id. */
export async function recordedOutputs(sql: Sql, group: string, ids: string[]): Promise<Map<string, Output[]>> {
  if (ids.length === 0) return new Map();
  const rows = await sql<{ event_id: string; outputs: Output[] }[]>`
    SELECT event_id, outputs FROM processed_events WHERE consumer_group = ${group} AND event_id IN ${sql(ids)}`;
  return new Map(rows.map((r) => [r.event_id, r.outputs]));
}

/** Claims in one INSERT; an event id claimed before is left as it is. Returns the ids claimed now. */
export async function insertClaims(sql: Sql, group: string, claims: Claim[]): Promise<{ event_id: string }[]> {
  return sql<{ event_id: string }[]>`
    INSERT INTO processed_events (consumer_group, event_id, event_type, outputs)
    SELECT ${group}, r.event_id, r.event_type, r.outputs
    FROM jsonb_to_recordset(${sql.json(claims as never)}::jsonb) AS r(event_id uuid, event_type text, outputs jsonb)
    ON CONFLICT DO NOTHING
    RETURNING event_id`;
}
