/**
 * node-rdkafka (librdkafka) clients with the settings every stage shares.
 *
 * Consumer: offsets are stored by the runtime only after a message's effect is durable
 * (`enable.auto.offset.store=false`) and committed in the background from those stored offsets, so a
 * crash re-delivers, never skips. Producer: idempotent, acks from all in-sync replicas, and the same
 * murmur2 partitioner as the gateway's kafkajs producer (and the Java client), so all of one order's
 * events land on one partition whoever writes them.
 */
import Kafka from 'node-rdkafka';

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  sessionTimeoutMs: number;
  maxPollIntervalMs: number;
}

function connect<C extends Kafka.Client<string>>(client: C, what: string): Promise<C> {
  return new Promise((resolve, reject) => {
    client.connect({ timeout: 10_000 }, (err) => (err ? reject(new Error(`${what} could not connect: ${err.message}`)) : resolve(client)));
  });
}

export async function createConsumer(settings: KafkaSettings, groupId: string): Promise<Kafka.KafkaConsumer> {
  const consumer = new Kafka.KafkaConsumer(
    {
      'client.id': settings.clientId,
      'group.id': groupId,
      'metadata.broker.list': settings.brokers.join(','),
      'enable.auto.commit': true,
      'enable.auto.offset.store': false,
      'auto.commit.interval.ms': 1_000,
      'session.timeout.ms': settings.sessionTimeoutMs,
      'max.poll.interval.ms': settings.maxPollIntervalMs,
      'allow.auto.create.topics': false,
      // A subscribed topic that does not exist yet (created, or deleted and created again, just before the
      // workers started) is looked for again within 30 s instead of librdkafka's default 5 minutes.
      'topic.metadata.refresh.interval.ms': 30_000,
      'socket.keepalive.enable': true,
      // No end-of-partition events: `consumeBatch` returns as soon as it has a message and takes only
      // what is already fetched after that, so it needs no end marker to stop waiting.
      'enable.partition.eof': false,
      // How long the broker holds an empty fetch. A message that arrives ends the wait at once, so this
      // costs no latency (`consumeBatch` returns on the first message); shorter waits only multiply the
      // empty fetches of idle consumers, twelve of them per workers process.
      'fetch.wait.max.ms': 500,
      // Emit 'rebalance' events (node-rdkafka still does the assign/unassign): the runner drops what it
      // had fetched for partitions it lost.
      rebalance_cb: true,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  return connect(consumer, `consumer ${groupId}`);
}

export interface DeliveringProducer {
  /** Resolves once the broker acknowledged the message (all in-sync replicas). */
  send(topic: string, key: string, value: Buffer, headers: Record<string, string>): Promise<void>;
  flush(timeoutMs: number): Promise<void>;
  disconnect(): Promise<void>;
  isConnected(): boolean;
}

export async function createProducer(settings: KafkaSettings): Promise<DeliveringProducer> {
  // The plain Producer with delivery reports: each message carries its own settle callbacks as the
  // opaque, so there is no per-message wrapper (the HighLevelProducer's showed in a CPU profile).
  const producer = new Kafka.Producer(
    {
      'client.id': settings.clientId,
      'metadata.broker.list': settings.brokers.join(','),
      // Idempotence makes librdkafka require acks from all in-sync replicas and keep per-partition order.
      'enable.idempotence': true,
      'linger.ms': 2,
      // Cheap on CPU, and much less crosses the network and lands on the brokers' disks.
      'compression.type': 'lz4',
      'socket.keepalive.enable': true,
      dr_cb: true,
    },
    {
      partitioner: 'murmur2_random',
      'message.timeout.ms': 30_000,
    },
  );
  // Delivery reports reach JavaScript only when the producer is polled. A fixed poll interval adds up
  // to that interval to every batch (the stage waits for its outputs' acknowledgements before it stores
  // offsets and takes the partition's next batch): 20 ms cost every hop ~10 ms on average. Instead poll
  // every millisecond while deliveries are outstanding, and only slowly (for errors and events) when idle.
  let outstanding = 0;
  let fastPoll: ReturnType<typeof setInterval> | undefined;
  const poll = () => {
    try {
      producer.poll();
    } catch {
      // Not connected (yet, or any more): the slow poll and the message timeout take it from here.
    }
  };
  const settled = () => {
    outstanding -= 1;
    if (outstanding === 0 && fastPoll) {
      clearInterval(fastPoll);
      fastPoll = undefined;
    }
  };
  producer.on('delivery-report', (err, report) => {
    const settle = report.opaque as Settle | undefined;
    if (!settle) return;
    settled();
    if (err) settle.reject(err);
    else settle.resolve();
  });
  producer.setPollInterval(IDLE_POLL_MS);
  await connect(producer, 'producer');
  return {
    send(topic, key, value, headers) {
      return new Promise((resolve, reject) => {
        const list = Object.entries(headers).map(([k, v]) => ({ [k]: v }));
        try {
          producer.produce(topic, null, value, key, Date.now(), { resolve, reject } satisfies Settle, list);
        } catch (err) {
          // The local queue is full (or the client is gone): a failure to send, retried by the caller.
          reject(err);
          return;
        }
        outstanding += 1;
        fastPoll ??= setInterval(poll, 1);
      });
    },
    flush(timeoutMs) {
      return new Promise((resolve, reject) => producer.flush(timeoutMs, (err) => (err ? reject(err) : resolve())));
    },
    disconnect() {
      return new Promise((resolve) => producer.disconnect(5_000, () => resolve()));
    },
    isConnected: () => producer.isConnected(),
  };
}

/** Poll interval with no delivery outstanding: errors and client events only. */
const IDLE_POLL_MS = 100;

interface Settle {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * One batch: waits up to `waitMs` for the first message, then takes whatever else is already fetched, up
 * to `size`, without waiting. node-rdkafka's `consume(n)` instead waits up to its timeout for *each* next
 * message until it has n, so at low load every batch (every hop of an order) sat out the timeout.
 *
 * Each call occupies a libuv thread-pool thread while it waits, so the pool needs a thread per consumer
 * in the process (the workers size it with UV_THREADPOOL_SIZE; with Node's default of 4 and twelve
 * consumers, consumers queued behind each other's waits: ~500 ms of an idle order's ~600 ms).
 */
export async function consumeBatch(consumer: Kafka.KafkaConsumer, size: number, waitMs: number): Promise<Kafka.Message[]> {
  const first = await consumeUpTo(consumer, 1, waitMs);
  if (first.length === 0 || size <= 1) return first;
  let rest: Kafka.Message[];
  try {
    rest = await consumeUpTo(consumer, size - 1, 0);
  } catch {
    // The first message is already taken from librdkafka: it must be returned, or it would be skipped
    // (offsets behind it get stored). The error comes back on the next call, which waits first.
    return first;
  }
  return rest.length === 0 ? first : first.concat(rest);
}

function consumeUpTo(consumer: Kafka.KafkaConsumer, size: number, timeoutMs: number): Promise<Kafka.Message[]> {
  // The timeout is the consumer's setting read by `consume` itself; one call at a time per consumer.
  consumer.setDefaultConsumeTimeout(timeoutMs);
  return new Promise((resolve, reject) => consumer.consume(size, (err, messages) => (err ? reject(err) : resolve(messages))));
}

/** Consumers that can wait at once, beside the pool's other work (commits, metadata, DNS). */
export function threadPoolNeeded(consumers: number): number {
  return consumers + 4;
}
