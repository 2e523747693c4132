/**
 * The fault-injection suite's short schedule (ops/chaos): under customer load, WebSocket feeds and
 * webhook receivers, a Kafka partition leader is killed, Redis is killed, PostgreSQL crashes, and the
 * services' link to PostgreSQL is partitioned — then the invariant checker compares what the clients
 * were told with what the system did. `npm run chaos` runs the whole schedule.
 */
import { expect, test } from 'bun:test';
import { runChaos, table } from '../chaos/run';

test('faults under load lose nothing: every invariant holds after the short schedule', async () => {
  const result = await runChaos({ schedule: 'short', rate: 10, customers: 6, keep: false, log: (s) => process.stdout.write(`  ${s}\n`) });
  process.stdout.write(`${table(result)}\n`);
  expect(result.faults.map((f) => f.name)).toEqual(['kill Kafka partition leader', 'kill Redis', 'crash PostgreSQL', 'partition postgres']);
  expect(result.operations.acknowledged).toBeGreaterThan(100);
  expect(result.rows.filter((r) => !r.held)).toEqual([]);
  // Every fault was recovered from: an order placed after each heal shipped.
  expect(result.faults.filter((f) => f.recoveryMs === undefined).map((f) => f.name)).toEqual([]);
}, 600_000);
