/**
 * The operator console (issue #18) in real headless Chromium against the real services: the operator
 * sees an order stuck behind a stopped stage, re-drives it after the stage is back, and it ships.
 *
 * The workers run without the payment stage, so an order stops at `validated`; its `order.validated`
 * is then removed from Kafka, so that when payment comes back only the re-drive can move the order on.
 * A customer's account is shown the console's "administrators only" notice first. Screenshots of the
 * overview and of the order's diagnosis are kept in .local/artifacts/.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConsumerGroups, namespaced, ORDER_EVENTS_PARTITIONS, Topics } from '@orders/contracts';
import { eventually } from '@orders/platform/testing';
import { type Admin, AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { startServices } from '../local/services.mjs';
import { cfg, db, devToken, env, gatewayUrl, mode, type Services, start, stop, useNamespace } from './harness';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = join(cfg.localDir, 'artifacts');
const PASSWORD = 'correct horse battery staple';
// An order waiting 2 s counts as stuck, and the gateway looks every second: the test needs no long waits.
const PIPELINE = { PIPELINE_STUCK_AFTER_MS: '2000', PIPELINE_WATCH_INTERVAL_MS: '1000' };
const WITHOUT_PAYMENT = 'validator,inventory,fulfillment,projector,webhooks';
const sql = db();
let services: Services | undefined;
let payment: Services | undefined;
let admin: Admin;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

beforeAll(async () => {
  await useNamespace('e2eoperator');
  services = await start(['gateway', 'workers', 'payment-provider'], { ...PIPELINE, WORKER_STAGES: WITHOUT_PAYMENT });
  admin = new Kafka({ clientId: 'e2e-operator', brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // What this machine's closed network needs: no background fetches that fail at every start.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(err.message));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await admin?.disconnect();
  await Promise.all([payment && stop(payment), services && stop(services)]);
  await sql.end();
}, 60_000);

/** A second workers process running only the payment stage (its own metrics port beside the first's). */
async function startPaymentStage(): Promise<Services> {
  const lines: string[] = [];
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
  return Object.assign(s, { lines });
}

async function statusOf(orderId: string): Promise<string | undefined> {
  return (await sql<{ status: string }[]>`SELECT status FROM orders WHERE id = ${orderId}`)[0]?.status;
}

async function signIn(email: string) {
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('#login');
}

describe('the operator console in Chromium', () => {
  test('an order stuck behind a stopped stage is seen, re-driven once the stage is back, and ships', async () => {
    expect(existsSync(CHROMIUM)).toBe(true);
    const topic = namespaced(Topics.orderEvents, mode.namespace);

    // A customer's order, which stops at `validated`: nothing runs the payment stage.
    const customer = await devToken('customer');
    const placed = await fetch(`${gatewayUrl}/api/v1/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${customer.accessToken}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify({ items: [{ sku: 'MUG-BLUE', quantity: 1 }], paymentMethodToken: 'pm_card_visa' }),
    });
    expect(placed.status).toBe(201);
    const orderId = ((await placed.json()) as { id: string }).id;
    await eventually(async () => (await statusOf(orderId)) === 'validated', { what: `order ${orderId} validated`, timeoutMs: 30_000 });

    // The `order.validated` is removed from the topic: it stands for an event lost to retention, or one a
    // consumer skipped. Without this the returning payment stage would simply consume its backlog (its
    // group has no offsets yet, so it starts from the earliest record) and the re-drive would prove nothing.
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.deleteTopicRecords({ topic, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
    expect((await admin.fetchTopicOffsets(topic)).every((p) => p.low === p.high)).toBe(true);

    // An account that is not an administrator's is told so, and can sign out.
    const email = `operator-${randomUUID()}@example.com`;
    const registered = await fetch(`${gatewayUrl}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(registered.status).toBe(201);
    await page.goto(`${gatewayUrl}/operator`);
    await signIn(email);
    await page.waitForSelector('#forbidden:not([hidden])', { timeout: 10_000 });
    expect(await page.textContent('#forbidden')).toContain('This console is for administrators');
    expect(await page.isHidden('#app')).toBe(true);
    await page.click('#forbidden-signout');
    await page.waitForSelector('#signin:not([hidden])');
    // The only errors so far: the browser logging the 403 answers.
    expect(consoleErrors.filter((e) => !e.includes('status of 403'))).toEqual([]);
    consoleErrors.length = 0;

    // The role is read at login: promoted now, the next sign-in is an administrator's.
    const [operator] = await sql<{ id: string }[]>`UPDATE users SET role = 'admin' WHERE email = ${email} RETURNING id`;
    if (!operator) throw new Error(`no account ${email}`);
    await signIn(email);
    const row = `#stuck tr[data-order-id="${orderId}"]`;
    await page.waitForSelector(`${row}[data-stage="payment"][data-status="validated"]`, { timeout: 20_000 });
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
    payment = await startPaymentStage();
    const group = namespaced(ConsumerGroups.payment, mode.namespace);
    await eventually(
      async () => {
        const [g] = (await admin.describeGroups([group])).groups;
        if (g?.state !== 'Stable' || g.members.length === 0) return false;
        const owned = g.members.flatMap((m) => AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? []);
        return owned.length === ORDER_EVENTS_PARTITIONS;
      },
      { what: `group ${group} stable with all of ${topic} assigned`, timeoutMs: 30_000, everyMs: 200 },
    );
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
    expect(await page.$$eval('#timeline li', (lis) => lis.map((li) => (li as HTMLElement).dataset.status))).toEqual([
      'pending',
      'validated',
      'paid',
      'reserved',
      'shipped',
    ]);
    expect(await page.isDisabled('#redrive')).toBe(true);
    await page.waitForSelector(row, { state: 'detached', timeout: 10_000 });

    const audit = await sql<{ actor: string }[]>`
      SELECT actor_id AS actor FROM admin_audit WHERE action = 'order.redriven' AND target = ${orderId}`;
    expect(audit.map((a) => a.actor)).toEqual([operator.id]);
    expect(consoleErrors).toEqual([]);
  }, 120_000);
});
