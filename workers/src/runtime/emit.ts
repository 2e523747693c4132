/**
 * Sends a run's committed outputs: events to Kafka (under the namespace, with their id, type and trace
 * as headers) and status updates to the users' feeds in Redis. Sending is retried until it succeeds: the
 * effect is committed and its outputs must go out; a failure to send is never the event's fault.
 */
import { type EventCodec, EventHeaders, namespaced } from '@orders/contracts';
import type { Logger, StatusFeedPublisher } from '@orders/platform';
import type { DeliveringProducer } from './kafka';
import type { Output } from './stage';
import { untilDone } from './until-done';

export interface EmitterDeps {
  codec: EventCodec;
  producer: DeliveringProducer;
  feed: StatusFeedPublisher;
  namespace: string;
  logger: Logger;
  isStopping: () => boolean;
}

/** An output with the trace it continues (a new span of its input's). */
export interface Sending {
  output: Output;
  trace: string;
}

export class OutputEmitter {
  private readonly codec: EventCodec;
  private readonly producer: DeliveringProducer;
  private readonly feed: StatusFeedPublisher;
  private readonly namespace: string;
  private readonly logger: Logger;
  private readonly isStopping: () => boolean;

  constructor({ codec, producer, feed, namespace, logger, isStopping }: EmitterDeps) {
    this.codec = codec;
    this.producer = producer;
    this.feed = feed;
    this.namespace = namespace;
    this.logger = logger;
    this.isStopping = isStopping;
  }

  /** Resolves true once every output is out; false if the process began stopping first. */
  emitAll(sendings: Sending[]): Promise<boolean> {
    if (sendings.length === 0) return Promise.resolve(true);
    return untilDone(() => Promise.all(sendings.map(({ output, trace }) => this.emit(output, trace))), {
      isStopping: this.isStopping,
      logger: this.logger,
      what: 'emitting committed outputs',
      baseMs: 100,
      maxMs: 5_000,
    });
  }

  private async emit(output: Output, trace: string): Promise<void> {
    if (output.kind === 'feed') {
      await this.feed.publish(output.update);
      return;
    }
    const value = this.codec.encode(output.type, output.payload);
    await this.producer.send(namespaced(output.topic, this.namespace), output.key, value, {
      [EventHeaders.eventId]: output.payload.eventId,
      [EventHeaders.eventType]: output.type,
      [EventHeaders.traceparent]: trace,
    });
  }
}
