import { describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import type { Sql } from '@orders/platform';
import { CoalescingReader } from '../src/modules/orders/reader';
import { suiteGateway } from './support';

const gw = suiteGateway();

/** The gateway's client, counting the statements the reader sends through it. */
function counting(sql: Sql): { sql: Sql; statements: () => number } {
  let n = 0;
  const wrapped = Object.assign((...args: Parameters<Sql>) => {
    n++;
    return (sql as unknown as (...a: unknown[]) => unknown)(...args);
  }, sql) as unknown as Sql;
  return { sql: wrapped, statements: () => n };
}

describe('coalesced order reads', () => {
  test('the reads of one turn share one statement; each caller gets its own row, or none', async () => {
    const u = await gw.user();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body: { items: [{ sku: 'MUG-BLUE', quantity: i + 1 }] } });
      ids.push(r.json.id as string);
    }
    const c = counting(gw.sql);
    const reader = new CoalescingReader<{ id: string; total_cents: number }>(c.sql, 'SELECT o.id, o.total_cents FROM orders o');
    const missing = randomUUID();
    const asked = [ids[0], ids[1], missing, ids[2], ids[0]] as string[];
    const rows = await Promise.all(asked.map((id) => reader.read(id)));
    expect(rows.map((r) => r?.id)).toEqual([ids[0], ids[1], undefined, ids[2], ids[0]]);
    expect(rows[1]?.total_cents).toBe(2 * (rows[0]?.total_cents ?? 0));
    expect(c.statements()).toBe(1);
    // Another turn, another statement; a large turn is split into statements of at most 256 ids.
    await reader.read(ids[1] as string);
    expect(c.statements()).toBe(2);
    await Promise.all(Array.from({ length: 300 }, () => reader.read(randomUUID())));
    expect(c.statements()).toBe(4);
  });

  test('any spelling of an id finds its order, and one id PostgreSQL cannot read fails only its own caller', async () => {
    const u = await gw.user();
    const r = await gw.call('POST', '/api/v1/orders', { token: u.accessToken, body: { items: [{ sku: 'MUG-BLUE', quantity: 1 }] } });
    const id = r.json.id as string;
    const reader = new CoalescingReader<{ id: string }>(gw.sql, 'SELECT o.id FROM orders o');
    const answers = await Promise.all(
      [id.toUpperCase(), `urn:uuid:${id}`, 'not-a-uuid', id].map((x) =>
        reader.read(x).then(
          (row) => row?.id ?? 'none',
          () => 'failed',
        ),
      ),
    );
    expect(answers).toEqual([id, id, 'failed', id]);
    const api = await gw.call('GET', `/api/v1/orders/${id.toUpperCase()}`, {
      token: u.accessToken,
      headers: { 'cache-control': 'no-cache' },
    });
    expect([api.status, api.json.id]).toEqual([200, id]);
  });

  test('a failing statement fails every read of its turn (none hangs)', async () => {
    const c = counting(gw.sql);
    const broken = new CoalescingReader<{ id: string }>(c.sql, 'SELECT o.id, o.no_such_column FROM orders o');
    const reads = [broken.read(randomUUID()), broken.read(randomUUID())].map((p) =>
      p.then(
        () => 'ok',
        () => 'failed',
      ),
    );
    expect(await Promise.all(reads)).toEqual(['failed', 'failed']);
  });

  test('GET by id through the API still hides another customer’s order when both are read in one turn', async () => {
    const a = await gw.user();
    const b = await gw.user();
    const order = await gw.call('POST', '/api/v1/orders', { token: a.accessToken, body: { items: [{ sku: 'MUG-BLUE', quantity: 1 }] } });
    const id = order.json.id as string;
    const fresh = { 'cache-control': 'no-cache' };
    const [own, other] = await Promise.all([
      gw.call('GET', `/api/v1/orders/${id}`, { token: a.accessToken, headers: fresh }),
      gw.call('GET', `/api/v1/orders/${id}`, { token: b.accessToken, headers: fresh }),
    ]);
    expect(own.status).toBe(200);
    expect([other.status, other.json.code]).toEqual([404, 'ORDERS_NOT_FOUND']);
  });
});
