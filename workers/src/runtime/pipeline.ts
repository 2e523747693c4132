/**
 * What happens to one partition's batch of messages, in order:
 *
 *   decode → (not ours? skip) → already processed? re-emit its recorded outputs
 *   → prepare (the stage's work outside transactions, whole batch at once)
 *   → ONE transaction: skip what was applied before, apply each effect, claim every event id in
 *     processed_events together with its outputs
 *   → emit the outputs (Kafka, Redis) → failures to the retry or dead-letter topic; a dependency that
 *     cannot be reached (outage.ts) fails the whole run instead, and the runner tries it again in place.
 *
 * Exactly-once effects on an at-least-once stream: the claim and the effect commit together, and a
 * redelivered event only re-sends what its first delivery recorded (same event ids, so downstream
 * de-duplicates too). If the batch transaction fails, every event is tried again in a transaction of its
 * own, so one bad event fails alone. Emitting is retried until it succeeds: the effect is committed and
 * its outputs must go out; a failure to send is never the event's fault.
 *
 * A deciding stage (outputs are its only effect) skips the transaction: decide, then one INSERT of the
 * processed-event records with their outputs; the rows that conflict are the duplicates, whose first
 * outputs are read back and re-sent. Events the stage does not handle are recognised by their
 * `event-type` header and skipped without being decoded.
 */
import { ContractError, type DecodedEvent, type EventCodec, type EventType, isEventType, namespaced } from '@orders/contracts';
import { childTraceparent, type Logger, type Sql, type StatusFeedPublisher, uuidv7 } from '@orders/platform';
import type Kafka from 'node-rdkafka';
import type { DeliveringProducer } from './kafka';
import { isOutage } from './outage';
import type { Router } from './routing';
import { type BatchStage, isBatch, isDeciding, type Output, type Prepared, type Stage } from './stage';
import { untilDone } from './until-done';

export type Outcome = 'handled' | 'duplicate' | 'skipped' | 'retried' | 'dead_lettered' | 'abandoned';

export interface PipelineDeps {
  sql: Sql;
  codec: EventCodec;
  producer: DeliveringProducer;
  feed: StatusFeedPublisher;
  logger: Logger;
  namespace: string;
  isStopping: () => boolean;
  /** How long a batch spent in each phase (for metrics). */
  observePhase?: (phase: 'prepare' | 'apply' | 'emit', seconds: number) => void;
}

interface Item {
  message: Kafka.Message;
  event?: DecodedEvent;
  outcome?: Outcome;
  outputs?: Output[];
  error?: unknown;
  prepared?: unknown;
}

export class Pipeline {
  private readonly handles: Set<EventType>;

  constructor(
    private readonly stage: Stage,
    private readonly d: PipelineDeps,
    private readonly router: Router,
  ) {
    this.handles = new Set(stage.handles);
  }

  /** Outcomes line up with `messages`; `attempt` is the attempt number these messages are on. */
  async run(messages: Kafka.Message[], attempt: number): Promise<Outcome[]> {
    const items: Item[] = messages.map((message) => ({ message }));
    await this.decode(items);
    this.markRepeats(items);
    const live = items.filter((i) => i.event && !i.outcome);
    // Duplicates are found by the claim itself; a stage whose `prepare` has effects outside the database
    // (a payment provider call) asks first, so a redelivered event never reaches it again. (The deciding
    // validator's `prepare` only scores: a rare duplicate may be scored twice.)
    if (this.stage.prepare && !isDeciding(this.stage)) await this.findDuplicates(live);
    const fresh = live.filter((i) => !i.outcome);
    let t = performance.now();
    const lap = (phase: 'prepare' | 'apply' | 'emit') => {
      const now = performance.now();
      this.d.observePhase?.(phase, (now - t) / 1000);
      t = now;
    };
    await this.prepare(fresh);
    lap('prepare');
    const ready = fresh.filter((i) => !i.error);
    if (isDeciding(this.stage)) await this.decideAll(ready);
    else await this.apply(ready);
    lap('apply');
    // An event that failed because a dependency is down is tried again in place (the runner backs off and
    // re-runs the batch; what was applied meanwhile is recognised as processed), not routed: see outage.ts.
    const down = items.find((i) => i.error !== undefined && !i.outcome && isOutage(i.error));
    if (down) throw down.error;
    // Emit in message order: outputs of duplicates and of freshly handled events.
    const emitting = items.filter((i) => (i.outcome === 'handled' || i.outcome === 'duplicate') && i.outputs && i.outputs.length > 0);
    // Each output continues its input's trace (a new span of it), so a request can be followed downstream.
    const sends = emitting.flatMap((i) => (i.outputs ?? []).map((o) => ({ o, trace: childTraceparent(i.event?.traceparent) })));
    if (!(await this.emitUntilDone(sends))) {
      for (const i of emitting) i.outcome = 'abandoned';
    }
    lap('emit');
    for (const i of items) {
      if (i.error !== undefined && !i.outcome) i.outcome = await this.router.route(i.message, i.error, attempt);
    }
    return items.map((i) => i.outcome ?? 'skipped');
  }

  /**
   * The same event twice in one batch (a producer sent it again: the outbox after a failed send, a stage
   * re-emitting recorded outputs): the first copy decides for both, and a later copy does nothing. It
   * must not claim the event id itself: when the first copy fails and goes to the retry topic, a claim
   * by the copy would make the retry a duplicate and the event would never take effect (the fault-
   * injection suite lost a payment that way: the copy was planned "charged by an earlier event of the
   * batch" while that earlier one had failed).
   */
  private markRepeats(items: Item[]): void {
    const seen = new Set<string>();
    for (const i of items) {
      if (!i.event || i.outcome) continue;
      const id = i.event.payload.eventId;
      if (seen.has(id)) i.outcome = 'duplicate';
      else seen.add(id);
    }
  }

  private async decode(items: Item[]): Promise<void> {
    for (const i of items) {
      const type = eventTypeHeader(i.message);
      if (type !== undefined && isEventType(type) && !this.handles.has(type)) {
        i.outcome = 'skipped';
        continue;
      }
      try {
        if (!i.message.value) throw new ContractError('CONTRACTS_TRUNCATED', 'message has no value');
        i.event = await this.d.codec.decode(i.message.value);
        const trace = header(i.message, 'traceparent');
        if (trace) i.event.traceparent = trace;
        if (!this.handles.has(i.event.type)) i.outcome = 'skipped';
      } catch (err) {
        i.error = err;
      }
    }
  }

  /** What earlier deliveries of these events recorded (their outputs), by event id. */
  private async recorded(sql: Sql, ids: string[]): Promise<Map<string, Output[]>> {
    if (ids.length === 0) return new Map();
    const rows = await sql<{ event_id: string; outputs: Output[] }[]>`
      SELECT event_id, outputs FROM processed_events WHERE consumer_group = ${this.stage.group} AND event_id IN ${sql(ids)}`;
    return new Map(rows.map((r) => [r.event_id, r.outputs]));
  }

  private async findDuplicates(items: Item[]): Promise<void> {
    const seen = await this.recorded(
      this.d.sql,
      items.map((i) => (i.event as DecodedEvent).payload.eventId),
    );
    for (const i of items) {
      const outputs = seen.get((i.event as DecodedEvent).payload.eventId);
      if (outputs) {
        i.outcome = 'duplicate';
        i.outputs = outputs;
      }
    }
  }

  private async prepare(items: Item[]): Promise<void> {
    if (!this.stage.prepare || items.length === 0) return;
    let results: Prepared[];
    try {
      results = await this.stage.prepare(
        items.map((i) => i.event as DecodedEvent),
        { sql: this.d.sql, logger: this.d.logger },
      );
    } catch (err) {
      for (const i of items) i.error = err;
      return;
    }
    items.forEach((i, n) => {
      const r = results[n];
      if (!r) i.error = new Error('prepare returned no result for this event');
      else if (r.ok) i.prepared = r.value;
      else i.error = r.error;
    });
  }

  /** One transaction for the batch; on failure, one per event. */
  private apply(items: Item[]): Promise<void> {
    const { stage } = this;
    if (stage.selfDeduplicating && isBatch(stage)) return this.batchOrOneByOne(items, (some) => this.applyUnrecorded(stage, some));
    return this.batchOrOneByOne(items, (some) => this.transact(some));
  }

  /** A self-deduplicating stage: its effect alone, with no claim to write or read. */
  private async applyUnrecorded(stage: BatchStage, items: Item[]): Promise<void> {
    const outputs = await this.d.sql.begin((tx) =>
      stage.handleBatch(
        items.map((i) => i.event as DecodedEvent),
        { tx, logger: this.d.logger, newId: uuidv7 },
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
        i.outputs = await this.stage.decide(i.event as DecodedEvent, { logger: this.d.logger, newId: uuidv7 }, i.prepared);
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
      this.d.logger.debug({ err, size: items.length }, 'batch write failed; writing its events one by one');
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
    const { sql } = this.d;
    const rows = items.map((i) => ({
      event_id: (i.event as DecodedEvent).payload.eventId,
      event_type: (i.event as DecodedEvent).type,
      outputs: i.outputs ?? [],
    }));
    const claimed = await sql<{ event_id: string }[]>`
      INSERT INTO processed_events (consumer_group, event_id, event_type, outputs)
      SELECT ${group}, r.event_id, r.event_type, r.outputs
      FROM jsonb_to_recordset(${sql.json(rows as never)}::jsonb) AS r(event_id uuid, event_type text, outputs jsonb)
      ON CONFLICT DO NOTHING
      RETURNING event_id`;
    const mine = new Set(claimed.map((r) => r.event_id));
    const before = await this.recorded(
      sql,
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
    const results = await this.d.sql.begin(async (tx) => {
      const events = items.map((i) => i.event as DecodedEvent);
      const earlier = await this.recorded(
        tx as unknown as Sql,
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
      const ctx = { tx, logger: this.d.logger, newId: uuidv7 };
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
        const claimed = await tx`
          INSERT INTO processed_events (consumer_group, event_id, event_type, outputs)
          SELECT ${group}, r.event_id, r.event_type, r.outputs
          FROM jsonb_to_recordset(${tx.json(claims as never)}::jsonb) AS r(event_id uuid, event_type text, outputs jsonb)
          ON CONFLICT DO NOTHING
          RETURNING event_id`;
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

  private emitUntilDone(outputs: { o: Output; trace: string }[]): Promise<boolean> {
    if (outputs.length === 0) return Promise.resolve(true);
    return untilDone(() => Promise.all(outputs.map(({ o, trace }) => this.emit(o, trace))), {
      isStopping: this.d.isStopping,
      logger: this.d.logger,
      what: 'emitting committed outputs',
      baseMs: 100,
      maxMs: 5_000,
    });
  }

  private async emit(o: Output, trace: string): Promise<void> {
    if (o.kind === 'feed') {
      await this.d.feed.publish(o.update);
      return;
    }
    const value = this.d.codec.encode(o.type, o.payload);
    await this.d.producer.send(namespaced(o.topic, this.d.namespace), o.key, value, {
      'event-id': o.payload.eventId,
      'event-type': o.type,
      traceparent: trace,
    });
  }
}

function header(message: Kafka.Message, name: string): string | undefined {
  for (const h of message.headers ?? []) {
    const v = h[name];
    if (v !== undefined) return String(v);
  }
  return undefined;
}

function eventTypeHeader(message: Kafka.Message): string | undefined {
  return header(message, 'event-type');
}
