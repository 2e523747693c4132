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
      'socket.keepalive.enable': true,
      // With end-of-partition events a batch returns as soon as the backlog is read instead of waiting
      // out the consume timeout for messages that are not there: lower latency per hop when caught up.
      'enable.partition.eof': true,
      // Short empty long-polls: at 500 ms (the default) the end-to-end suite's single order took three
      // times as long from POST to shipped (0.8 s → 2.4 s, one run each). The price, read once from /proc
      // with the services idle: ten idle consumers cost this process and the broker about 15 % of a core
      // between them (7 % + 9 %, against 5.5 % + 3 % at 500 ms).
      'fetch.wait.max.ms': 50,
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
  producer.on('delivery-report', (err, report) => {
    const settle = report.opaque as Settle | undefined;
    if (!settle) return;
    if (err) settle.reject(err);
    else settle.resolve();
  });
  producer.setPollInterval(20);
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
        }
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

interface Settle {
  resolve(): void;
  reject(err: unknown): void;
}

export function consumeBatch(consumer: Kafka.KafkaConsumer, size: number): Promise<Kafka.Message[]> {
  return new Promise((resolve, reject) => consumer.consume(size, (err, messages) => (err ? reject(err) : resolve(messages))));
}
