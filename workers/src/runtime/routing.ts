/**
 * Where a failed message goes. Retryable failures go to the stage's retry topic with the attempt number
 * and the time before which it must not run again (exponential backoff with full jitter); permanent ones,
 * and retryable ones out of attempts, go to the dead-letter topic with the reason, the stage and the
 * attempt. Either way the partition moves on: a poison message never blocks it.
 */
import { type ConsumerGroup, ContractError, deadLetterTopic, namespaced, retryTopic } from '@orders/contracts';
import { type Logger, traceIdOf } from '@orders/platform';
import type Kafka from 'node-rdkafka';
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

export const RetryHeaders = {
  attempt: 'retry-attempt',
  notBefore: 'retry-not-before',
  originalTopic: 'retry-original-topic',
  errorCode: 'retry-error-code',
  errorReason: 'retry-error-reason',
} as const;

export function headerMap(message: Kafka.Message): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of message.headers ?? []) for (const [k, v] of Object.entries(h)) out[k] = String(v);
  return out;
}

function isPermanent(err: unknown): boolean {
  return err instanceof PermanentError || (err instanceof ContractError && !err.retryable);
}

function describe(err: unknown): { code: string; reason: string } {
  const code =
    err instanceof ContractError || err instanceof PermanentError ? err.code : ((err as { code?: string })?.code ?? 'HANDLER_FAILED');
  return { code: String(code), reason: (err instanceof Error ? err.message : String(err)).slice(0, 1000) };
}

export class Router {
  constructor(private readonly o: RoutingOptions) {}

  /** Backoff before attempt `n` (1-based): base × 2^(n-1), capped, with full jitter. */
  backoffMs(attempt: number): number {
    const ceiling = Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  /**
   * Sends a failed message on: to the retry topic when it may succeed later and has attempts left, else
   * to the dead-letter topic. Resolves true once that write is durable; false if the process is stopping
   * before it could be (the offset is then not stored and the message is delivered again).
   */
  async route(message: Kafka.Message, err: unknown, attempt: number): Promise<'retried' | 'dead_lettered' | 'abandoned'> {
    const { code, reason } = describe(err);
    const given = headerMap(message);
    const original = given[RetryHeaders.originalTopic] ?? message.topic;
    // What identifies the event and its trace travels with it to the retry and dead-letter topics.
    const carried = Object.fromEntries(
      ['event-id', 'event-type', 'traceparent'].flatMap((k) => (given[k] === undefined ? [] : [[k, given[k] as string]])),
    );
    const traceId = traceIdOf(given.traceparent);
    const retry = !isPermanent(err) && attempt <= this.o.maxRetries;
    const topic = namespaced(retry ? retryTopic(this.o.group) : deadLetterTopic(this.o.group), this.o.namespace);
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
          'dlq-error-code': code,
          'dlq-error-reason': reason,
          'dlq-stage': this.o.stage,
          'dlq-attempts': String(attempt),
          'dlq-original-topic': original,
          'dlq-original-partition': String(message.partition),
          'dlq-original-offset': String(message.offset),
        };
    if (retry) this.o.logger.warn({ code, reason, attempt, topic: original, traceId }, 'event failed; scheduled for retry');
    else this.o.logger.error({ code, reason, attempts: attempt, topic: original, offset: message.offset, traceId }, 'event dead-lettered');
    const sent = await untilDone(
      () => this.o.producer.send(topic, message.key?.toString() ?? '', message.value ?? Buffer.alloc(0), headers),
      {
        isStopping: this.o.isStopping,
        logger: this.o.logger,
        what: 'the retry/dead-letter write',
        baseMs: 200,
        maxMs: 5_000,
      },
    );
    return sent ? (retry ? 'retried' : 'dead_lettered') : 'abandoned';
  }
}
