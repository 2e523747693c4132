/**
 * The gateway's Kafka producer (kafkajs, pure JS, so it runs on Bun): acks from all in-sync replicas,
 * one request in flight so a retried batch can never overtake the next. kafkajs logs go through the
 * service logger.
 *
 * Not idempotent, on purpose. kafkajs's idempotent producer cannot recover once a send gave up after a
 * broker died mid-request: the outbox re-sends those rows in a new, larger batch under sequence numbers
 * the new leader already holds, and every send after that fails with OUT_OF_ORDER_SEQUENCE_NUMBER (the
 * Java client bumps the producer epoch there; kafkajs does not). The fault-injection suite found the
 * outbox wedged that way after a partition leader was killed. Without idempotence such a re-send may
 * write a duplicate, which the design already absorbs: every consumer de-duplicates on the event id.
 */
import type { Logger } from '@orders/platform';
import { type Admin, Kafka, type LogEntry, logLevel, type Producer } from 'kafkajs';

/** kafkajs logs through the service logger, each line prefixed (`kafka: …`); its own lines carry no header values or payloads. */
export function kafkaLogCreator(logger: Logger, prefix = 'kafka') {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...rest } = log;
      const fields = { kafka: rest };
      if (level === logLevel.ERROR) logger.error(fields, `${prefix}: ${message}`);
      else if (level === logLevel.WARN) logger.warn(fields, `${prefix}: ${message}`);
      else logger.debug(fields, `${prefix}: ${message}`);
    };
}

export interface ProducerHandle {
  producer: Producer;
  isConnected(): boolean;
  /** An admin client on the same brokers, connected on first use (retention reads committed offsets). */
  admin(): Promise<Admin>;
  /** Disconnects the admin client, if it was connected. */
  closeAdmin(): Promise<void>;
}

export function createProducer(opts: { brokers: string[]; clientId: string; logger: Logger }): ProducerHandle {
  const kafka = new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(opts.logger),
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 5_000 },
  });
  const producer = kafka.producer({
    idempotent: false,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // Bounded retries: the outbox keeps the rows and tries again, so a dead broker cannot wedge a send forever.
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 5_000 },
  });
  let connected = false;
  producer.on(producer.events.CONNECT, () => {
    connected = true;
  });
  producer.on(producer.events.DISCONNECT, () => {
    connected = false;
  });
  let admin: Promise<Admin> | undefined;
  return {
    producer,
    isConnected: () => connected,
    admin() {
      if (!admin) {
        const a = kafka.admin({ retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 } });
        admin = a.connect().then(
          () => a,
          (err) => {
            admin = undefined;
            throw err;
          },
        );
      }
      return admin;
    },
    async closeAdmin() {
      const a = admin;
      admin = undefined;
      if (a) await (await a.catch(() => undefined))?.disconnect();
    },
  };
}
