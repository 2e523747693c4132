/**
 * What the operator console's browser test (operator-console.test.ts) needs beside its flow: Chromium
 * and a console page that records its errors, a second workers process running only the payment stage,
 * a message read back from a topic, and a dead letter written as the workers' router writes one.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { CARRIED_HEADERS, DeadLetterHeaders, RetryHeaders } from '@orders/contracts';
import { eventually } from '@orders/platform/testing';
import type { IHeaders, Kafka, KafkaMessage, Message } from 'kafkajs';
import type { Browser, Page } from 'playwright-core';
import { startServices } from '../local/services.mjs';
import { cfg, mode, type Services } from './harness';

export { CHROMIUM, launchChromium } from './browser';

/** A page of its own (its own session storage), with every console error and uncaught exception kept. */
export async function consolePage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  return { page, errors };
}

export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#login');
}

/** A second workers process running only the payment stage (its own metrics port beside the first's). */
/**
 * Finds an order in the stuck list of one stage, paging on while it is not on the page shown: the test
 * database holds the other suites' orders too, and older stuck ones come first.
 */
export async function findStuck(page: Page, stage: string, orderId: string): Promise<void> {
  await page.selectOption('#stage-filter', stage);
  const row = `#stuck tr[data-order-id="${orderId}"][data-stage="${stage}"]`;
  await eventually(
    async () => {
      if (await page.$(row)) return true;
      // Filtered meanwhile only once the rows shown are all of the stage; then on to the next page.
      const others = await page.$$eval('#stuck tr', (rows, s) => rows.filter((r) => (r as HTMLElement).dataset.stage !== s).length, stage);
      if (others === 0 && (await page.isEnabled('#next-page'))) await page.click('#next-page');
      return false;
    },
    { what: `order ${orderId} in the stuck list of ${stage}`, timeoutMs: 30_000, everyMs: 250 },
  );
}

export async function startPaymentStage(): Promise<Services> {
  const ports = { ...mode.ports, workerMetricsPort: mode.ports.workerMetricsPort + 1 };
  const s = await startServices(
    cfg,
    { ...mode, ports },
    {
      only: ['workers'],
      env: { WORKER_STAGES: 'payment' },
      onLine: (_service, line) => {
        appendFileSync(join(cfg.logDir, 'e2e-workers-payment.log'), `${line}\n`);
        if (/"level":"(error|fatal)"/.test(line)) process.stderr.write(`[workers payment] ${line}\n`);
      },
    },
  );
  return Object.assign(s, { lines: [] });
}

/** A message as read from `topic`, with where it was read. */
export type TopicMessage = KafkaMessage & { topic: string; partition: number };

/** A header's value as text (kafkajs hands them over as bytes); the last one if it is repeated. */
export function header(headers: IHeaders | undefined, name: string): string | undefined {
  const raw = headers?.[name];
  const last = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  return last?.toString();
}

/** The first message of `topic` (read from its beginning, in a group of its own) that `matches`. */
export async function firstMessage(kafka: Kafka, topic: string, matches: (m: KafkaMessage) => boolean): Promise<TopicMessage> {
  const consumer = kafka.consumer({ groupId: `e2e-operator-${randomUUID()}` });
  let found: TopicMessage | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        if (!found && matches(message)) found = { ...message, topic, partition };
      },
    });
    return await eventually(() => found, { what: `the message sought on ${topic}`, timeoutMs: 30_000, everyMs: 50 });
  } finally {
    await consumer.disconnect();
  }
}

/**
 * What the workers' router (workers/src/runtime/routing.ts) writes to `stage`'s dead-letter topic when
 * it gives up on `failed`: its key and value unchanged, the event's own headers carried, and why.
 */
export function deadLetterOf(failed: TopicMessage, stage: string, why: { code: string; reason: string; attempts: number }): Message {
  const carried: IHeaders = {};
  for (const name of CARRIED_HEADERS) if (failed.headers?.[name] !== undefined) carried[name] = failed.headers[name];
  return {
    key: failed.key,
    value: failed.value,
    headers: {
      ...carried,
      [DeadLetterHeaders.errorCode]: why.code,
      [DeadLetterHeaders.errorReason]: why.reason,
      [DeadLetterHeaders.stage]: stage,
      [DeadLetterHeaders.attempts]: String(why.attempts),
      [DeadLetterHeaders.originalTopic]: header(failed.headers, RetryHeaders.originalTopic) ?? failed.topic,
      [DeadLetterHeaders.originalPartition]: String(failed.partition),
      [DeadLetterHeaders.originalOffset]: failed.offset,
    },
  };
}
