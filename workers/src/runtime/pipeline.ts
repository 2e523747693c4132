/**
 * What happens to one partition's batch of messages, in order:
 *
 *   decode → (not ours? skip) → already processed? re-emit its recorded outputs
 *   → prepare (the stage's work outside transactions, whole batch at once)
 *   → write: skip what was applied before, apply each effect, claim every event id in processed_events
 *     together with its outputs (write.ts: one transaction, or none for a deciding stage)
 *   → emit the outputs (Kafka, Redis: emit.ts) → failures to the retry or dead-letter topic (routing.ts);
 *     a dependency that cannot be reached (outage.ts) fails the whole run instead, and the runner tries
 *     it again in place.
 *
 * Exactly-once effects on an at-least-once stream: the claim and the effect commit together, and a
 * redelivered event only re-sends what its first delivery recorded (same event ids, so downstream
 * de-duplicates too). Emitting is retried until it succeeds: the effect is committed and its outputs
 * must go out. Events the stage does not handle are recognised by their `event-type` header and skipped
 * without being decoded.
 */
import {
  ContractError,
  ContractErrorCodes,
  type DecodedEvent,
  type EventCodec,
  EventHeaders,
  type EventType,
  isEventType,
} from '@orders/contracts';
import type { Logger, Sql, StatusFeedPublisher } from '@orders/platform';
import type Kafka from 'node-rdkafka';
import { OutputEmitter } from './emit';
import { header } from './headers';
import type { Item, Outcome } from './item';
import type { DeliveringProducer } from './kafka';
import { isOutage } from './outage';
import { recordedOutputs } from './processed-events';
import type { Router } from './routing';
import { endStageSpans, startStageSpans } from './spans';
import { isDeciding, type Prepared, type Stage } from './stage';
import { BatchWriter } from './write';

export type { Outcome } from './item';

type Phase = 'prepare' | 'apply' | 'emit';

export interface PipelineDeps {
  sql: Sql;
  codec: EventCodec;
  producer: DeliveringProducer;
  feed: StatusFeedPublisher;
  logger: Logger;
  namespace: string;
  isStopping: () => boolean;
  /** How long a batch spent in each phase (for metrics). */
  observePhase?: (phase: Phase, seconds: number) => void;
}

export class Pipeline {
  private readonly handles: Set<EventType>;
  private readonly sql: Sql;
  private readonly codec: EventCodec;
  private readonly logger: Logger;
  private readonly observePhase: ((phase: Phase, seconds: number) => void) | undefined;
  private readonly writer: BatchWriter;
  private readonly emitter: OutputEmitter;

  constructor(
    private readonly stage: Stage,
    { sql, codec, producer, feed, logger, namespace, isStopping, observePhase }: PipelineDeps,
    private readonly router: Router,
  ) {
    this.handles = new Set(stage.handles);
    this.sql = sql;
    this.codec = codec;
    this.logger = logger;
    this.observePhase = observePhase;
    this.writer = new BatchWriter(stage, sql, logger);
    this.emitter = new OutputEmitter({ codec, producer, feed, namespace, logger, isStopping });
  }

  /** Outcomes line up with `messages`; `attempt` is the attempt number these messages are on. */
  async run(messages: Kafka.Message[], attempt: number): Promise<Outcome[]> {
    const items: Item[] = messages.map((message) => ({ message }));
    await this.decode(items);
    // Each event the stage works on is a span from here to its outcome (spans.ts).
    startStageSpans(this.stage.name, items, attempt);
    try {
      const outcomes = await this.process(items, attempt);
      endStageSpans(items);
      return outcomes;
    } catch (err) {
      endStageSpans(items, err);
      throw err;
    }
  }

  private async process(items: Item[], attempt: number): Promise<Outcome[]> {
    this.markRepeats(items);
    const live = items.filter((i) => i.event && !i.outcome);
    // Duplicates are found by the claim itself; a stage whose `prepare` has effects outside the database
    // (a payment provider call) asks first, so a redelivered event never reaches it again. (The deciding
    // validator's `prepare` only scores: a rare duplicate may be scored twice.)
    if (this.stage.prepare && !isDeciding(this.stage)) await this.findDuplicates(live);
    const fresh = live.filter((i) => !i.outcome);
    let t = performance.now();
    const lap = (phase: Phase) => {
      const now = performance.now();
      this.observePhase?.(phase, (now - t) / 1000);
      t = now;
    };
    await this.prepare(fresh);
    lap('prepare');
    await this.writer.write(fresh.filter((i) => !i.error));
    lap('apply');
    // An event that failed because a dependency is down is tried again in place (the runner backs off and
    // re-runs the batch; what was applied meanwhile is recognised as processed), not routed: see outage.ts.
    const down = items.find((i) => i.error !== undefined && !i.outcome && isOutage(i.error));
    if (down) throw down.error;
    // Emit in message order: outputs of duplicates and of freshly handled events.
    const emitting = items.filter((i) => (i.outcome === 'handled' || i.outcome === 'duplicate') && i.outputs && i.outputs.length > 0);
    // Each output continues its input's trace as a child of the stage's span for it (its event carries
    // that span's context: spans.ts), so a request can be followed downstream.
    const sendings = emitting.flatMap((i) => (i.outputs ?? []).map((output) => ({ output, trace: i.event?.traceparent ?? '' })));
    if (!(await this.emitter.emitAll(sendings))) {
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
      const type = header(i.message, EventHeaders.eventType);
      if (type !== undefined && isEventType(type) && !this.handles.has(type)) {
        i.outcome = 'skipped';
        continue;
      }
      try {
        if (!i.message.value) throw new ContractError(ContractErrorCodes.truncated, 'message has no value');
        i.event = await this.codec.decode(i.message.value);
        const trace = header(i.message, EventHeaders.traceparent);
        if (trace) i.event.traceparent = trace;
        if (!this.handles.has(i.event.type)) i.outcome = 'skipped';
      } catch (err) {
        i.error = err;
      }
    }
  }

  private async findDuplicates(items: Item[]): Promise<void> {
    const seen = await recordedOutputs(
      this.sql,
      this.stage.group,
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
        { sql: this.sql, logger: this.logger },
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
}
