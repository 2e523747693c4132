/**
 * What the clients were told: the probes the faults made while a dependency was down, and every error
 * answer a clear one (problem+json with a code, never a 500).
 */
import { type Evidence, type Row, row } from './history';

/** Rows 8–9 of the table: the faults' own probes, then every error answer the clients got. */
export function answerInvariants({ h }: Evidence): Row[] {
  const rows: Row[] = [];
  // 8. What the faults' probes saw (Redis down: API serves, login fails closed; PostgreSQL down: a clear 503).
  for (const f of h.faults) for (const o of f.observations) rows.push(row(o.check, o.ok, o.detail));

  // 9. Every failure the clients saw was a clear answer: problem+json, 503/429/409 with a code, never a 500.
  const all = [...h.ops.flatMap((o) => o.attempts), ...h.reads, ...h.ops.flatMap((o) => (o.cancel ? [o.cancel] : []))];
  const unclear = all.filter((a) => a.status >= 400 && (!a.contentType?.startsWith('application/problem+json') || !a.code));
  const fivehundreds = all.filter((a) => a.status === 500 || a.status === 502 || a.status === 504);
  const byStatus = new Map<number, number>();
  for (const a of all) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
  rows.push(
    row(
      'every error answer is a problem+json with a code; no 500',
      unclear.length === 0 && fivehundreds.length === 0,
      `${all.length} requests: ${[...byStatus]
        .sort((a, b) => a[0] - b[0])
        .map(([s, n]) => `${s === 0 ? 'no answer' : s} ×${n}`)
        .join(', ')}`,
    ),
  );
  return rows;
}
