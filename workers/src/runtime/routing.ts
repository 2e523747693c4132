/**
 * Where a failed message goes. Retryable failures go to the stage's retry topic with the attempt number
 * and the time before which it must not run again (exponential backoff with equal jitter: see
 * `backoffMs`); permanent ones, and retryable ones out of attempts, go to the dead-letter topic with the
 * reason, the stage and the attempt. Either way the partition moves on: a poison message never blocks it.
 */
import {
  CARRIED_HEADERS,
  type ConsumerGroup,
  ContractError,
  DeadLetterHeaders,
  deadLetterTopic,
  EventHeaders,
  namespaced,
  RetryHeaders,
  retryTopic,
} from '@orders/contracts';
import { type Logger, traceIdOf } from '@orders/platform';
import type Kafka from 'node-rdkafka';
import { WorkerErrorCodes } from '../error-codes';
import { headerMap } from './headers';
import type { DeliveringProducer } from './kafka';
import { PermanentError } from './stage';
import { untilDone } from './until-done';

export interface RoutingOptions {
  producer: DeliveringProducer;
  group: ConsumerGroup;
  stage: string;
  namespace: string;
  logger: Logger;
  maxRetries: number;
  retryBaseMs: number;
  retryMaxMs: number;
  isStopping: () => boolean;
}

function isPermanent(err: unknown): boolean {
  return err instanceof PermanentError || (err instanceof ContractError && !err.retryable);
}

function describe(err: unknown): { code: string; reason: string } {
  const code =
    err instanceof ContractError || err instanceof PermanentError
      ? err.code
      : ((err as { code?: string })?.code ?? WorkerErrorCodes.pipelineHandlerFailed);
  return { code: String(code), reason: (err instanceof Error ? err.message : String(err)).slice(0, 1000) };
}

export class Router {
  private readonly producer: DeliveringProducer;
  private readonly group: ConsumerGroup;
  private readonly stage: string;
  private readonly namespace: string;
  private readonly logger: Logger;
  private readonly maxRetries: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly isStopping: () => boolean;

  constructor({ producer, group, stage, namespace, logger, maxRetries, retryBaseMs, retryMaxMs, isStopping }: RoutingOptions) {
    this.producer = producer;
    this.group = group;
    this.stage = stage;
    this.namespace = namespace;
    this.logger = logger;
    this.maxRetries = maxRetries;
    this.retryBaseMs = retryBaseMs;
    this.retryMaxMs = retryMaxMs;
    this.isStopping = isStopping;
  }

  /**
   * Backoff before attempt `n` (1-based): the ceiling base × 2^(n-1), capped at the maximum, with equal
   * jitter: at least half the ceiling, plus a random part of the other half. Equal rather than full
   * jitter (anywhere in [0, ceiling]) on purpose: an event has only a few retries, and full jitter could
   * spend them all within milliseconds, dead-lettering it before a passing fault (a provider's 5xx, a
   * timeout) had time to clear; the guaranteed half keeps the whole schedule at least half as long as
   * its ceilings. Retries of one failing dependency are still spread over the other half, and a
   * dependency that is down altogether is waited out in place (outage.ts), not through this schedule.
   */
  backoffMs(attempt: number): number {
    const ceiling = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  /**
   * Sends a failed message on: to the retry topic when it may succeed later and has attempts left, else
   * to the dead-letter topic. Resolves once that write is durable; `abandoned` if the process is stopping
   * before it could be (the offset is then not stored and the message is delivered again).
   */
  async route(message: Kafka.Message, err: unknown, attempt: number): Promise<'retried' | 'dead_lettered' | 'abandoned'> {
    const { code, reason } = describe(err);
    const given = headerMap(message);
    const original = given[RetryHeaders.originalTopic] ?? message.topic;
    // What identifies the event and its trace travels with it to the retry and dead-letter topics.
    const carried = Object.fromEntries(CARRIED_HEADERS.flatMap((k) => (given[k] === undefined ? [] : [[k, given[k] as string]])));
    const traceId = traceIdOf(given[EventHeaders.traceparent]);
    const retry = !isPermanent(err) && attempt <= this.maxRetries;
    const topic = namespaced(retry ? retryTopic(this.group) : deadLetterTopic(this.group), this.namespace);
    const headers: Record<string, string> = retry
      ? {
          ...carried,
          [RetryHeaders.attempt]: String(attempt),
          [RetryHeaders.notBefore]: String(Date.now() + this.backoffMs(attempt)),
          [RetryHeaders.originalTopic]: original,
          [RetryHeaders.errorCode]: code,
          [RetryHeaders.errorReason]: reason,
        }
      : {
          ...carried,
          [DeadLetterHeaders.errorCode]: code,
          [DeadLetterHeaders.errorReason]: reason,
          [DeadLetterHeaders.stage]: this.stage,
          [DeadLetterHeaders.attempts]: String(attempt),
          [DeadLetterHeaders.originalTopic]: original,
          [DeadLetterHeaders.originalPartition]: String(message.partition),
          [DeadLetterHeaders.originalOffset]: String(message.offset),
        };
    if (retry) this.logger.warn({ code, reason, attempt, topic: original, traceId }, 'event failed; scheduled for retry');
    else this.logger.error({ code, reason, attempts: attempt, topic: original, offset: message.offset, traceId }, 'event dead-lettered');
    const sent = await untilDone(
      () => this.producer.send(topic, message.key?.toString() ?? '', message.value ?? Buffer.alloc(0), headers),
      {
        isStopping: this.isStopping,
        logger: this.logger,
        what: 'the retry/dead-letter write',
        baseMs: 200,
        maxMs: 5_000,
      },
    );
    return sent ? (retry ? 'retried' : 'dead_lettered') : 'abandoned';
  }
}
