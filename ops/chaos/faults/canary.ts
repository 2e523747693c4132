/**
 * Recovery, measured: after a heal, an order placed (and retried with its key) until it ships.
 */
import { randomUUID } from 'node:crypto';
import { call } from '../load';
import { type FaultContext, PROBE_ORDER } from './fault';

/** Places an order (retrying with its key) and waits until it ships; resolves with the ms since `from`. */
export async function canary(ctx: FaultContext, from: number, boundMs = 90_000): Promise<number | undefined> {
  const key = randomUUID();
  const deadline = from + boundMs;
  let id: string | undefined;
  const alive = () => ctx.services.died.length === 0;
  // Hand-written waits rather than eventually(): a service that died on its own must end them at once.
  while (!id && Date.now() < deadline && alive()) {
    const { attempt, json } = await call('POST', '/api/v1/orders', ctx.probe.token, PROBE_ORDER, { 'idempotency-key': key });
    if (attempt.status === 201 || attempt.status === 200) id = String(json.id);
    else await Bun.sleep(250);
  }
  while (id && Date.now() < deadline && alive()) {
    const [row] = await ctx.sql<{ status: string }[]>`SELECT status FROM orders WHERE id = ${id}`.catch(() => []);
    if (row?.status === 'shipped') return Date.now() - from;
    await Bun.sleep(100);
  }
  return undefined;
}
