/**
 * Writes a run's effects together with its processed-event claims, in the way the stage's kind needs:
 *
 * - a transactional or batch stage: ONE transaction for the batch: skip what earlier deliveries
 *   applied, apply the rest, claim them with their outputs (`transact`);
 * - a self-deduplicating batch stage: its effect alone, with no claim to write or read;
 * - a deciding stage (outputs are its only effect): no transaction: decide, then one INSERT of the
 *   claims with their outputs; the rows that conflict are the duplicates, whose first outputs are read
 *   back and sent again (`record`).
 *
 * If the batch write fails, every event is tried again in a write of its own, so one bad event fails
 * alone; an outage of a dependency instead fails the whole run (outage.ts).
 */
import type { DecodedEvent } from '@orders/contracts';
import { type Logger, type Sql, uuidv7 } from '@orders/platform';
import type { Item, Outcome } from './item';
import { isOutage } from './outage';
import { insertClaims, recordedOutputs } from './processed-events';
import { type BatchStage, isBatch, isDeciding, type Output, type Stage } from './stage';

export class BatchWriter {
  constructor(
    private readonly stage: Stage,
    private readonly sql: Sql,
    private readonly logger: Logger,
  ) {}

  /** Sets each item's outcome and outputs, or the error it failed with. */
  write(items: Item[]): Promise<void> {
    return isDeciding(this.stage) ? this.decideAll(items) : this.apply(items);
  }

  /** One transaction for the batch; on failure, one per event. */
  private apply(items: Item[]): Promise<void> {
    const { stage } = this;
    if (stage.selfDeduplicating && isBatch(stage)) return this.batchOrOneByOne(items, (some) => this.applyUnrecorded(stage, some));
    return this.batchOrOneByOne(items, (some) => this.transact(some));
  }

  /** A self-deduplicating stage: its effect alone, with no claim to write or read. */
  private async applyUnrecorded(stage: BatchStage, items: Item[]): Promise<void> {
    const outputs = await this.sql.begin((tx) =>
      stage.handleBatch(
        items.map((i) => i.event as DecodedEvent),
        { tx, logger: this.logger, newId: uuidv7 },
        items.map((i) => i.prepared),
      ),
    );
    if (outputs.some((o) => o.length > 0)) throw new Error(`stage ${stage.name} is self-deduplicating but emitted outputs`);
    for (const i of items) {
      i.outcome = 'handled';
      i.outputs = [];
    }
  }

  /** A deciding stage: outputs first, then the records (claims and outputs) in one statement. */
  private async decideAll(items: Item[]): Promise<void> {
    if (!isDeciding(this.stage)) return;
    const decided: Item[] = [];
    for (const i of items) {
      try {
        i.outputs = await this.stage.decide(i.event as DecodedEvent, { logger: this.logger, newId: uuidv7 }, i.prepared);
        decided.push(i);
      } catch (err) {
        i.error = err;
      }
    }
    await this.batchOrOneByOne(decided, (some) => this.record(some));
  }

  /**
   * An outage fails the whole run instead of single events (outage.ts): written one by one, a later
   * event could be applied ahead of an earlier one that failed the same way, but a moment sooner. The
   * fault-injection suite caught exactly that: an order's `stock.reserved` projected before its
   * `payment.authorized`, so ignored as not applicable, and the order stuck in `paid`.
   */
  private async batchOrOneByOne(items: Item[], write: (items: Item[]) => Promise<void>): Promise<void> {
    if (items.length === 0) return;
    try {
      await write(items);
    } catch (err) {
      if (isOutage(err)) throw err;
      if (items.length === 1) {
        (items[0] as Item).error = err;
        return;
      }
      this.logger.debug({ err, size: items.length }, 'batch write failed; writing its events one by one');
      for (const i of items) {
        try {
          await write([i]);
        } catch (e) {
          if (isOutage(e)) throw e;
          i.error = e;
        }
      }
    }
  }

  /**
   * Claims and outputs of decided events in one INSERT. A conflicting row is a duplicate: it was decided
   * before (maybe differently), so what goes out again is what was recorded then.
   */
  private async record(items: Item[]): Promise<void> {
    const { group } = this.stage;
    const claimed = await insertClaims(
      this.sql,
      group,
      items.map((i) => ({
        event_id: (i.event as DecodedEvent).payload.eventId,
        event_type: (i.event as DecodedEvent).type,
        outputs: i.outputs ?? [],
      })),
    );
    const mine = new Set(claimed.map((r) => r.event_id));
    const before = await recordedOutputs(
      this.sql,
      group,
      items.map((i) => (i.event as DecodedEvent).payload.eventId).filter((id) => !mine.has(id)),
    );
    for (const i of items) {
      const id = (i.event as DecodedEvent).payload.eventId;
      if (mine.delete(id)) {
        i.outcome = 'handled';
      } else {
        // Recorded by an earlier delivery (re-send that), or a copy earlier in this batch (sent once).
        i.outcome = 'duplicate';
        i.outputs = before.get(id) ?? [];
        before.delete(id);
      }
    }
  }

  /**
   * The batch in one transaction: find which events earlier deliveries applied, apply the rest, then
   * claim them with their outputs in one INSERT. The claim comes last so each processed-event row is
   * written once, outputs included (writing it first and its outputs after was the costliest statement
   * of the pipeline at load). A claim that conflicts was taken meanwhile by another consumer of the
   * same event (a rebalance handed its partition over mid-batch): then nothing of this transaction may
   * commit; the batch fails, is tried event by event, and finds that event done.
   */
  private async transact(items: Item[]): Promise<void> {
    const { stage } = this;
    const { group } = stage;
    const results = await this.sql.begin(async (tx) => {
      const events = items.map((i) => i.event as DecodedEvent);
      const earlier = await recordedOutputs(
        tx as unknown as Sql,
        group,
        events.map((e) => e.payload.eventId),
      );
      // Not fresh: applied by an earlier delivery (whose recorded outputs go out again), or a copy
      // earlier in this very batch (emitted once).
      const taken = new Set<string>();
      const fresh = events.map((e) => {
        const id = e.payload.eventId;
        if (earlier.has(id) || taken.has(id)) return false;
        taken.add(id);
        return true;
      });
      const duplicate = (id: string) => {
        const outputs = earlier.get(id) ?? [];
        earlier.delete(id);
        return { outcome: 'duplicate' as const, outputs };
      };
      const out: { outcome: Outcome; outputs: Output[] }[] = [];
      const ctx = { tx, logger: this.logger, newId: uuidv7 };
      if (isBatch(stage)) {
        const mineEvents = events.filter((_, n) => fresh[n]);
        const minePrepared = items.filter((_, n) => fresh[n]).map((i) => i.prepared);
        const outputs = mineEvents.length > 0 ? await stage.handleBatch(mineEvents, ctx, minePrepared) : [];
        let k = 0;
        for (const [n, event] of events.entries())
          out.push(fresh[n] ? { outcome: 'handled', outputs: outputs[k++] ?? [] } : duplicate(event.payload.eventId));
      } else if (!isDeciding(stage)) {
        for (const [n, event] of events.entries()) {
          if (!fresh[n]) out.push(duplicate(event.payload.eventId));
          else out.push({ outcome: 'handled', outputs: await stage.handle(event, ctx, items[n]?.prepared) });
        }
      }
      const claims = events.flatMap((e, n) =>
        fresh[n] ? [{ event_id: e.payload.eventId, event_type: e.type, outputs: out[n]?.outputs ?? [] }] : [],
      );
      if (claims.length > 0) {
        const claimed = await insertClaims(tx as unknown as Sql, group, claims);
        if (claimed.length !== claims.length) {
          throw new Error(`${claims.length - claimed.length} of the batch's events were claimed by another consumer meanwhile`);
        }
      }
      return out;
    });
    items.forEach((i, n) => {
      const r = results[n];
      if (r) {
        i.outcome = r.outcome;
        i.outputs = r.outputs;
      }
    });
  }
}
