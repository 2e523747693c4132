/**
 * A user's connection slots across every edge (Redis): one taken as a socket is admitted, given back as
 * it closes, kept alive by a heartbeat while it stays open, so a dead edge's slots expire after the slot
 * TTL. Without `slots` (limits off) every socket is admitted and nothing is tracked.
 */
import type { Principal } from '@orders/platform';
import type { EdgeSocket, SocketRegistry } from './connections';
import type { EdgeOptions } from './options';
import { CloseCodes } from './protocol';

export type EdgeSlots = ReturnType<typeof edgeSlots>;

export function edgeSlots(o: Pick<EdgeOptions, 'slots' | 'slotTtlMs' | 'logger'>, sockets: SocketRegistry) {
  const releases = new Set<Promise<void>>();
  let heartbeat: ReturnType<typeof setInterval> | undefined;

  function release(ws: EdgeSocket) {
    const p = ws.data.principal;
    if (!o.slots || !p || !ws.data.slotHeld) return;
    ws.data.slotHeld = false;
    const done = o.slots
      .release(p.userId, ws.data.id)
      .catch((err) => o.logger.warn({ err: (err as Error).message }, 'connection slot not released; it expires'));
    releases.add(done);
    void done.finally(() => releases.delete(done));
  }

  /**
   * Takes one of the user's connection slots (across all edges). Redis unreachable: admitted (fail open),
   * the slot is simply not tracked.
   */
  async function take(ws: EdgeSocket, principal: Principal): Promise<boolean> {
    if (!o.slots) return true;
    try {
      const { ok, held } = await o.slots.acquire(principal.userId, ws.data.id);
      if (!ok) {
        sockets.close(ws, CloseCodes.rateLimited, `too many connections: ${held} already open for this user`);
        return false;
      }
      ws.data.slotHeld = true;
      return true;
    } catch (err) {
      o.logger.warn({ err: (err as Error).message }, 'connection limit not enforced: Redis unavailable');
      // The acquire may still have landed in Redis after our timeout: give that slot back (or let it expire).
      o.slots.release(principal.userId, ws.data.id).catch(() => {});
      return true;
    }
  }

  /** Live connections keep their slots alive; a dead edge's slots expire after slotTtlMs. */
  function startHeartbeat() {
    const { slots } = o;
    if (!slots) return;
    heartbeat = setInterval(
      () => {
        const byUser = new Map<string, string[]>();
        for (const ws of sockets.all) {
          const p = ws.data.principal;
          if (!p || !ws.data.slotHeld) continue;
          const ids = byUser.get(p.userId);
          if (ids) ids.push(ws.data.id);
          else byUser.set(p.userId, [ws.data.id]);
        }
        for (const [userId, ids] of byUser) {
          slots.refresh(userId, ids).catch((err) => o.logger.warn({ err: (err as Error).message }, 'connection slots not refreshed'));
        }
      },
      Math.max(1_000, Math.floor(o.slotTtlMs / 3)),
    );
  }

  return {
    take,
    release,
    startHeartbeat,
    stopHeartbeat: () => clearInterval(heartbeat),
    /** The releases still on their way to Redis (a drain waits for them: otherwise they hold until their TTL). */
    settled: async () => void (await Promise.all(releases)),
  };
}
