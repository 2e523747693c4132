/**
 * The operator console (issue #18) in real headless Chromium against the real services: the operator
 * sees an order stuck behind a stopped stage, re-drives it after the stage is back, and it ships; and
 * replays another stuck order's dead letter from its diagnosis, and that one ships too.
 *
 * The workers run without the payment stage, so two orders stop at `validated` (one to re-drive, one
 * whose dead letter is replayed); their `order.validated` events are then removed from Kafka, so that
 * when payment comes back only the operator's action moves each on. The replayed order's dead letter is
 * its real `order.validated` as the validator emitted it, written to the payment stage's dead-letter
 * topic as the workers' router would, and indexed by the gateway. A customer's account is shown the
 * console's "administrators only" notice first. Screenshots of the overview, of the order's diagnosis
 * and of the dead letter are kept in .local/artifacts/.
 */

import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConsumerGroups,
  DeadLetterHeaders,
  deadLetterTopic,
  EventHeaders,
  namespaced,
  ORDER_EVENTS_PARTITIONS,
  RetryHeaders,
  retryTopic,
  Topics,
} from '@orders/contracts';
import { eventually } from '@orders/platform/testing';
import { type Admin, AssignerProtocol, CompressionTypes, Kafka, logLevel } from 'kafkajs';
import type { Browser } from 'playwright-core';
import { registerLz4 } from '../kafka/lz4';
import { cfg, db, devToken, env, gatewayUrl, mode, type Services, start, stop, useNamespace } from './harness';
import {
  CHROMIUM,
  consolePage,
  deadLetterOf,
  findStuck,
  firstMessage,
  header,
  launchChromium,
  signIn,
  startPaymentStage,
  type TopicMessage,
} from './operator-support';

const artifacts = join(cfg.localDir, 'artifacts');
const PASSWORD = 'correct horse battery staple';
// An order waiting 2 s counts as stuck, and the gateway looks every second: the test needs no long waits.
const PIPELINE = { PIPELINE_STUCK_AFTER_MS: '2000', PIPELINE_WATCH_INTERVAL_MS: '1000' };
const WITHOUT_PAYMENT = 'validator,inventory,fulfillment,projector,webhooks';
const SHIPPED = ['pending', 'validated', 'paid', 'reserved', 'shipped'];
const sql = db();
let services: Services | undefined;
let payment: Services | undefined;
let kafka: Kafka;
let admin: Admin;
let browser: Browser;
let eventsTopic: string;
/** The two orders stuck at `validated`: one for the re-drive, one for the dead letter's replay. */
let redriveOrder: string;
let replayOrder: string;
/** The replayed order's `order.validated`, read from the topic before it was removed. */
let validatedEvent: TopicMessage;

async function statusOf(orderId: string): Promise<string | undefined> {
  return (await sql<{ status: string }[]>`SELECT status FROM orders WHERE id = ${orderId}`)[0]?.status;
}

async function placeOrder(accessToken: string): Promise<string> {
  const placed = await fetch(`${gatewayUrl}/api/v1/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: JSON.stringify({ items: [{ sku: 'MUG-BLUE', quantity: 1 }], paymentMethodToken: 'pm_card_visa' }),
  });
  expect(placed.status).toBe(201);
  return ((await placed.json()) as { id: string }).id;
}

/** A new account with the console's password (a customer's until promoted). */
async function register(): Promise<string> {
  const email = `operator-${randomUUID()}@example.com`;
  const registered = await fetch(`${gatewayUrl}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(registered.status).toBe(201);
  return email;
}

async function promote(email: string): Promise<string> {
  const [user] = await sql<{ id: string }[]>`UPDATE users SET role = 'admin' WHERE email = ${email} RETURNING id`;
  if (!user) throw new Error(`no account ${email}`);
  return user.id;
}

/** The payment stage running (started here unless a test did already), its group owning every partition. */
async function paymentRunning(): Promise<void> {
  payment ??= await startPaymentStage();
  const group = namespaced(ConsumerGroups.payment, mode.namespace);
  await eventually(
    async () => {
      const [g] = (await admin.describeGroups([group])).groups;
      if (g?.state !== 'Stable' || g.members.length === 0) return false;
      const owned = g.members.flatMap((m) => AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[eventsTopic] ?? []);
      return owned.length === ORDER_EVENTS_PARTITIONS;
    },
    { what: `group ${group} stable with all of ${eventsTopic} assigned`, timeoutMs: 30_000, everyMs: 200 },
  );
}

beforeAll(async () => {
  await useNamespace('e2eoperator');
  eventsTopic = namespaced(Topics.orderEvents, mode.namespace);
  services = await start(['gateway', 'workers', 'payment-provider'], { ...PIPELINE, WORKER_STAGES: WITHOUT_PAYMENT });
  // The workers' librdkafka producers compress with LZ4: reading their events, and writing as their router does.
  registerLz4();
  kafka = new Kafka({ clientId: 'e2e-operator', brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  browser = await launchChromium();

  // A customer's two orders, which stop at `validated`: nothing runs the payment stage.
  const customer = await devToken('customer');
  [redriveOrder, replayOrder] = [await placeOrder(customer.accessToken), await placeOrder(customer.accessToken)];
  for (const id of [redriveOrder, replayOrder])
    await eventually(async () => (await statusOf(id)) === 'validated', { what: `order ${id} validated`, timeoutMs: 30_000 });
  validatedEvent = await firstMessage(
    kafka,
    eventsTopic,
    (m) => m.key?.toString() === replayOrder && header(m.headers, EventHeaders.eventType) === 'order.validated',
  );

  // Their `order.validated` events are removed from the topic: they stand for events lost to retention, or
  // ones a consumer skipped. Without this the returning payment stage would simply consume its backlog (its
  // group has no offsets yet, so it starts from the earliest record) and neither action would prove anything.
  const ends = await admin.fetchTopicOffsets(eventsTopic);
  await admin.deleteTopicRecords({ topic: eventsTopic, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
  expect((await admin.fetchTopicOffsets(eventsTopic)).every((p) => p.low === p.high)).toBe(true);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await admin?.disconnect();
  await Promise.all([payment && stop(payment), services && stop(services)]);
  await sql.end();
}, 60_000);

describe('the operator console in Chromium', () => {
  test('an order stuck behind a stopped stage is seen, re-driven once the stage is back, and ships', async () => {
    expect(existsSync(CHROMIUM)).toBe(true);
    const orderId = redriveOrder;
    const { page, errors } = await consolePage(browser);

    // An account that is not an administrator's is told so, and can sign out.
    const email = await register();
    await page.goto(`${gatewayUrl}/operator`);
    await signIn(page, email, PASSWORD);
    await page.waitForSelector('#forbidden:not([hidden])', { timeout: 10_000 });
    expect(await page.textContent('#forbidden')).toContain('This console is for administrators');
    expect(await page.isHidden('#app')).toBe(true);
    await page.click('#forbidden-signout');
    await page.waitForSelector('#signin:not([hidden])');
    // The only errors so far: the browser logging the 403 answers.
    expect(errors.filter((e) => !e.includes('status of 403'))).toEqual([]);
    errors.length = 0;

    // The role is read at login: promoted now, the next sign-in is an administrator's.
    const operatorId = await promote(email);
    await signIn(page, email, PASSWORD);
    const row = `#stuck tr[data-order-id="${orderId}"]`;
    await findStuck(page, 'payment', orderId);
    await page.waitForSelector(`${row}[data-stage="payment"][data-status="validated"]`, { timeout: 10_000 });
    await page.waitForSelector('#stages tr[data-stage="payment"] td.stuck.alert', { timeout: 10_000 });
    expect(Number(await page.textContent('#statuses li[data-status="validated"] strong'))).toBeGreaterThanOrEqual(1);
    expect(await page.textContent('#updated')).toStartWith('Updated at ');
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'operator-console.png'), fullPage: true });

    // Its diagnosis: the timeline with the events behind it, and the event payment never processed.
    await page.click(`button[aria-label="Open order ${orderId}"]`);
    await page.waitForSelector(`#detail[data-order-id="${orderId}"][data-status="validated"]`, { timeout: 10_000 });
    await page.waitForSelector('#last-event[data-processed="false"]', { timeout: 10_000 });
    expect(await page.textContent('#last-event')).toContain('not processed by payment');
    const steps = await page.$$eval('#timeline li', (lis) =>
      lis.map((li) => [(li as HTMLElement).dataset.status, (li as HTMLElement).dataset.eventId]),
    );
    expect(steps.map(([status]) => status)).toEqual(['pending', 'validated']);
    for (const [, eventId] of steps) expect(eventId).toBeTruthy();
    expect(await page.isEnabled('#redrive')).toBe(true);
    await page.screenshot({ path: join(artifacts, 'operator-order.png'), fullPage: true });

    // Payment is back: its group joins and owns every partition, and finds nothing to do.
    await paymentRunning();
    expect(await statusOf(orderId)).toBe('validated');

    // The re-drive, confirmed in the dialog; the order then goes all the way.
    await page.click('#redrive');
    await page.waitForSelector('#confirm-redrive[open]');
    expect(await page.textContent('#confirm-text')).toContain(orderId);
    const answered = page.waitForResponse((r) => r.url().endsWith(`/api/v1/admin/pipeline/orders/${orderId}/redrive`));
    await page.click('#confirm-yes');
    const answer = await answered;
    expect(answer.status()).toBe(202);
    const redriven = (await answer.json()) as { stage: string; eventId: string; topic: string };
    expect(redriven.stage).toBe('payment');
    await page.waitForSelector(`#redrive-result[data-event-id="${redriven.eventId}"]`, { timeout: 10_000 });
    expect(await page.textContent('#redrive-result')).toContain(redriven.topic);
    await page.waitForSelector(`#detail[data-order-id="${orderId}"][data-status="shipped"]`, { timeout: 30_000 });
    expect(await statusOf(orderId)).toBe('shipped');
    expect(await page.$$eval('#timeline li', (lis) => lis.map((li) => (li as HTMLElement).dataset.status))).toEqual(SHIPPED);
    expect(await page.isDisabled('#redrive')).toBe(true);
    await page.waitForSelector(row, { state: 'detached', timeout: 10_000 });
    // The other stuck order has not moved: nothing but the operator's hand moves these.
    expect(await statusOf(replayOrder)).toBe('validated');

    const audit = await sql<{ actor: string }[]>`
      SELECT actor_id AS actor FROM admin_audit WHERE action = 'order.redriven' AND target = ${orderId}`;
    expect(audit.map((a) => a.actor)).toEqual([operatorId]);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  test('a stuck order’s dead letter is shown with its error, replayed from the page to the retry topic, and the order ships', async () => {
    const orderId = replayOrder;
    const dlqTopic = namespaced(deadLetterTopic(ConsumerGroups.payment), mode.namespace);
    const retry = namespaced(retryTopic(ConsumerGroups.payment), mode.namespace);
    const why = { code: 'PAYMENT_PROVIDER_UNREACHABLE', reason: 'payment provider did not answer /v1/charges within 2000 ms', attempts: 6 };

    // The payment stage gave up on the order's `order.validated`: its dead letter, as the router writes it (LZ4 too).
    const producer = kafka.producer();
    await producer.connect();
    const message = deadLetterOf(validatedEvent, 'payment', why);
    await producer.send({ topic: dlqTopic, acks: -1, compression: CompressionTypes.LZ4, messages: [message] });
    await producer.disconnect();
    // The gateway's indexer (in the gateway under test) picks it up.
    const entry = await eventually(
      async () =>
        (
          await sql<{ id: string; kafka_partition: number; kafka_offset: string; event_id: string }[]>`
            SELECT id, kafka_partition, kafka_offset::text AS kafka_offset, event_id::text AS event_id FROM dead_letters
            WHERE namespace = ${mode.namespace} AND order_id = ${orderId} AND topic = ${dlqTopic}`
        )[0],
      { what: `the dead letter of order ${orderId} indexed`, timeoutMs: 30_000, everyMs: 100 },
    );
    expect(entry.event_id).toBe(header(validatedEvent.headers, EventHeaders.eventId) as string);
    // Payment is running, and the order still waits: its event is gone from orders.events.
    await paymentRunning();
    expect(await statusOf(orderId)).toBe('validated');

    // An administrator opens the order: the entry, with the stage's error code and reason.
    const { page, errors } = await consolePage(browser);
    const email = await register();
    const operatorId = await promote(email);
    await page.goto(`${gatewayUrl}/operator`);
    await signIn(page, email, PASSWORD);
    // Opened by its id, as from the dead-letter alert (the stuck list is the other test's way in).
    await page.fill('#find-order-id', orderId);
    await page.click('#find-order button[type="submit"]');
    await page.waitForSelector(`#detail[data-order-id="${orderId}"][data-status="validated"]`, { timeout: 10_000 });
    const row = `#dead-letters tr[data-dlq-id="${entry.id}"]`;
    await page.waitForSelector(`${row}[data-replayed="false"]`, { timeout: 10_000 });
    const cells = await page.$$eval(`${row} td`, (tds) => tds.map((td) => td.textContent));
    expect(cells.slice(0, 5)).toEqual(['payment', 'order.validated', why.code, why.reason, String(why.attempts)]);
    expect(await page.isHidden('#no-dead-letters')).toBe(true);
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'operator-dead-letter.png'), fullPage: true });

    // Replay (the page asks for no confirmation: a replay is recorded once, and the stage de-duplicates).
    const answered = page.waitForResponse((r) => r.url().endsWith(`/api/v1/admin/dlq/${entry.id}/replay`));
    await page.click(`${row} button[aria-label^="Replay dead letter ${entry.id} "]`);
    const answer = await answered;
    expect(answer.status()).toBe(200);
    expect(await answer.json()).toMatchObject({ id: entry.id, alreadyReplayed: false, retryTopic: retry, replayedBy: operatorId });
    await page.waitForSelector(`${row}[data-replayed="true"]`, { timeout: 10_000 });
    expect(await page.textContent(`${row} td:last-child`)).toStartWith('replayed ');
    expect(await page.$$(`${row} button`)).toHaveLength(0);
    expect(await page.textContent('#notice')).toBe(`Dead letter replayed to ${retry}.`);

    // On the stage's retry topic: the very event, due now with a fresh budget, marked with where it came from.
    const replayed = await firstMessage(kafka, retry, (m) => m.key?.toString() === orderId);
    expect(header(replayed.headers, DeadLetterHeaders.replayedFrom)).toBe(`${dlqTopic}/${entry.kafka_partition}/${entry.kafka_offset}`);
    expect(replayed.value?.equals(validatedEvent.value as Buffer)).toBe(true);
    for (const name of [EventHeaders.eventId, EventHeaders.eventType, EventHeaders.traceparent])
      expect(header(replayed.headers, name)).toBe(header(validatedEvent.headers, name) as string);
    expect(header(replayed.headers, RetryHeaders.attempt)).toBe('0');
    expect(header(replayed.headers, RetryHeaders.originalTopic)).toBe(eventsTopic);

    // Payment takes it from there, and the order goes all the way.
    await page.waitForSelector(`#detail[data-order-id="${orderId}"][data-status="shipped"]`, { timeout: 30_000 });
    expect(await statusOf(orderId)).toBe('shipped');
    expect(await page.$$eval('#timeline li', (lis) => lis.map((li) => (li as HTMLElement).dataset.status))).toEqual(SHIPPED);

    const audit = await sql<{ actor: string }[]>`
      SELECT actor_id AS actor FROM admin_audit WHERE action = 'dlq.replayed' AND target = ${entry.id}`;
    expect(audit.map((a) => a.actor)).toEqual([operatorId]);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
