/**
 * A consumer's fetched messages waiting for a batch: one queue per partition, in offset order, and the
 * partitions that have a batch in flight (none of their messages may start before it ends). Counts what
 * it holds, fetched and not yet done, for the runner's bound on it (backpressure).
 */
import type Kafka from 'node-rdkafka';

export function partitionKey(tp: { topic: string; partition: number }): string {
  return `${tp.topic}/${tp.partition}`;
}

export class PartitionQueues {
  /** Fetched messages not yet in a batch, per partition (`topic/partition`), in offset order. */
  private readonly queues = new Map<string, Kafka.Message[]>();
  /** Partitions with a batch in flight. */
  private readonly busy = new Set<string>();
  private held = 0;

  /** Messages fetched and not yet done: queued, or in a batch in flight. */
  get buffered(): number {
    return this.held;
  }

  add(messages: Kafka.Message[]): void {
    for (const m of messages) {
      const key = partitionKey(m);
      const queue = this.queues.get(key);
      if (queue) queue.push(m);
      else this.queues.set(key, [m]);
    }
    this.held += messages.length;
  }

  /**
   * Up to `batchSize` messages from at most `partitions` idle partitions, taking turns between them;
   * their partitions are busy until `finish`.
   */
  take(partitions: number, batchSize: number): { messages: Kafka.Message[]; keys: string[] } {
    const messages: Kafka.Message[] = [];
    const keys: string[] = [];
    for (const [key, queue] of this.queues) {
      if (keys.length >= partitions || messages.length >= batchSize) break;
      if (this.busy.has(key)) continue;
      messages.push(...queue.splice(0, batchSize - messages.length));
      keys.push(key);
      // What is left of this partition goes to the back of the line.
      this.queues.delete(key);
      if (queue.length > 0) this.queues.set(key, queue);
    }
    for (const key of keys) this.busy.add(key);
    return { messages, keys };
  }

  /** A batch ended: its partitions are idle again and its messages no longer held. */
  finish(keys: string[], count: number): void {
    for (const key of keys) this.busy.delete(key);
    this.held -= count;
  }

  /** Forgets what was fetched for a partition and not started; true if there was anything. */
  drop(key: string): boolean {
    const queue = this.queues.get(key);
    if (!queue) return false;
    this.held -= queue.length;
    this.queues.delete(key);
    return true;
  }
}
