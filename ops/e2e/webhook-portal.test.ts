/**
 * The webhook portal in real headless Chromium (Debian's, driven by playwright-core) against the real
 * gateway and the workers' dispatcher on a fast clock, delivering to a receiver on loopback that verifies
 * every signature with `standardwebhooks` and the secret the page showed. A customer created through the
 * page registers an endpoint (a refused URL first: the problem's detail in the notice), keeps the secret
 * shown once, sends a test event and watches it fail against a broken receiver (each attempt's 500 in the
 * delivery's detail); the receiver is fixed, one click redelivers it and it turns green. Then pause and
 * resume, a disabled endpoint's reason, an edit, a rotated secret, a second failure redelivered by
 * "every failed since", the success rate in the list, paging, and deleting. Screenshots land in
 * .local/artifacts/ (webhook-portal.png, webhook-portal-delivery.png).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '@orders/platform/testing';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from './browser';
import { cfg, db, gatewayUrl, type Services, start, stop, useNamespace } from './harness';
import { Receiver } from './webhook-receiver';

const artifacts = join(cfg.localDir, 'artifacts');
/** The retry schedule × 0.00005 (5 s → 0.25 ms, 10 h → 1.8 s): a message fails for good in ~5 s. */
const FAST = { WEBHOOK_TIME_SCALE: '0.00005', WEBHOOK_POLL_MS: '100', WEBHOOK_TIMEOUT_MS: '2000' };
/** The attempts of a message that never succeeds: the first, then the schedule's seven retries. */
const ATTEMPTS = 8;
const WAIT = { timeout: 30_000 };
const sql = db();
const receiver = new Receiver();
let failing = true;
let gateway: Services;
let workers: Services;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

beforeAll(async () => {
  await useNamespace('e2eportal');
  [gateway, workers] = await Promise.all([start(['gateway']), start(['workers'], FAST)]);
  receiver.answer = () => ({ status: failing ? 500 : 204 });
  browser = await launchChromium();
  const context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(err.message));
}, 120_000);

afterAll(async () => {
  receiver.stop();
  await browser?.close();
  await Promise.all([gateway && stop(gateway), workers && stop(workers)]);
  await sql.end();
}, 60_000);

const endpointItem = (id: string) => `li.endpoint[data-endpoint-id="${id}"]`;
const endpointButton = (id: string, action: string) => `${endpointItem(id)} button[data-action="${action}"]`;
const deliveryRow = (id: string) => `#deliveries tr[data-message-id="${id}"]`;

/** The id of the newest delivery in the table that is not in `seen`. */
async function newDelivery(seen: string[]): Promise<string> {
  const handle = await page.waitForFunction(
    (known: string[]) =>
      [...document.querySelectorAll<HTMLElement>('#deliveries tr')]
        .map((tr) => tr.dataset.messageId)
        .find((id) => id && !known.includes(id)),
    seen,
    WAIT,
  );
  return (await handle.jsonValue()) as string;
}

/** Fails for good against the broken receiver: every attempt answered 500, all of them signed. */
async function failsForGood(messageId: string) {
  await page.waitForSelector(`${deliveryRow(messageId)}[data-status="failed"]`, WAIT);
  const webhookId = `msg_${messageId.replaceAll('-', '')}`;
  const got = receiver.got.filter((g) => g.webhookId === webhookId);
  expect(got.map((g) => g.answered)).toEqual(Array(ATTEMPTS).fill(500));
  expect(got.every((g) => g.verified)).toBe(true);
}

describe('the webhook portal in Chromium', () => {
  test('register, keep the secret, watch a delivery fail, fix the receiver, redeliver, and manage the endpoint', async () => {
    expect(existsSync(CHROMIUM)).toBe(true);
    await page.goto(`${gatewayUrl}/portal`);
    expect(await page.$$eval('header nav a', (as) => as.map((a) => a.getAttribute('href')))).toEqual(['/track', '/portal', '/operator']);
    await page.fill('#email', `portal-${randomUUID()}@example.com`);
    await page.fill('#password', 'correct horse battery staple');
    await page.click('#create');
    await page.waitForSelector('#no-endpoints', { state: 'visible', ...WAIT });

    // Registering: a URL that reaches inward is refused, with the API's reason in the notice.
    await page.click('#new-endpoint');
    await page.fill('#ep-url', 'http://localhost:9/hooks');
    await page.check('input[name="eventTypes"][value="webhook.test"]');
    await page.check('input[name="eventTypes"][value="order.shipped"]');
    await page.fill('#ep-description', 'ERP');
    await page.click('#add-header');
    await page.fill('[aria-label="Header 1 name"]', 'X-Portal-Test');
    await page.fill('[aria-label="Header 1 value"]', 'yes');
    await page.fill('#ep-rate', '5');
    await page.click('#save-endpoint');
    await page.waitForSelector('#notice.error', WAIT);
    expect(await page.textContent('#notice')).toContain('The webhook URL is refused');
    await page.fill('#ep-url', receiver.url);
    await page.click('#save-endpoint');

    // The secret, shown once, copied, and gone from the page once kept.
    await page.waitForSelector('#secret-panel', { state: 'visible', ...WAIT });
    const secret = await page.inputValue('#secret');
    expect(secret).toMatch(/^whsec_/);
    receiver.secrets = [secret];
    await page.click('#copy-secret');
    await page.waitForSelector('#copy-secret:text("Copied")', WAIT);
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    const id = (await page.getAttribute('li.endpoint', 'data-endpoint-id')) as string;
    const [row] = await sql<{ rate_limit_per_second: number; headers_sealed: string | null }[]>`
      SELECT rate_limit_per_second, headers_sealed FROM webhook_endpoints WHERE id = ${id}`;
    expect(row?.rate_limit_per_second).toBe(5);
    expect(row?.headers_sealed).not.toBeNull();
    await page.click('#dismiss-secret');
    await page.waitForSelector('#secret-panel', { state: 'hidden' });
    expect(await page.inputValue('#secret')).toBe('');
    expect(await page.content()).not.toContain(secret.slice(6));

    // A test event against the broken receiver: it fails for good, each attempt's 500 in its detail.
    await page.click(endpointButton(id, 'test'));
    await page.waitForSelector('#deliveries-panel', { state: 'visible', ...WAIT });
    const first = await newDelivery([]);
    await failsForGood(first);
    await page.click(`${deliveryRow(first)} button[data-action="open"]`);
    await page.waitForSelector(`#delivery-detail[data-message-id="${first}"]`, WAIT);
    expect(await page.$$eval('#attempts tr', (trs) => trs.length)).toBe(ATTEMPTS);
    expect(await page.textContent('#attempts tr[data-attempt="1"] .status-code')).toBe('500');
    expect(await page.textContent('#attempts tr[data-attempt="1"] .excerpt')).toBe('answer 500');
    expect(Number(await page.textContent('#attempts tr[data-attempt="1"] .latency'))).toBeGreaterThanOrEqual(0);
    mkdirSync(artifacts, { recursive: true });
    await page.locator('#deliveries-panel').screenshot({ path: join(artifacts, 'webhook-portal-delivery.png') });

    // The receiver is fixed; one click sends the delivery again and it turns green, signed as before.
    failing = false;
    await page.click('#redeliver-one');
    await page.waitForSelector(`${deliveryRow(first)}[data-status="succeeded"]`, WAIT);
    await page.waitForSelector(
      `#delivery-detail[data-status="succeeded"] #attempts tr[data-outcome="succeeded"] .status-code:text("204")`,
      WAIT,
    );
    const last = receiver.got[receiver.got.length - 1];
    expect(last).toMatchObject({ webhookId: `msg_${first.replaceAll('-', '')}`, answered: 204, verified: true, type: 'webhook.test' });
    // The list's health follows: one message, succeeded.
    await page.waitForSelector(`${endpointItem(id)} .success-rate[data-rate="1"]`, WAIT);
    expect(await page.textContent(`${endpointItem(id)} .success-rate`)).toContain('100 %');
    expect(await page.textContent(`${endpointItem(id)} .last-attempt`)).toContain('HTTP 204');

    // Pause and resume show the status.
    await page.click(endpointButton(id, 'pause'));
    await page.waitForSelector(`${endpointItem(id)}[data-status="paused"] .badge.paused`, WAIT);
    await page.click(endpointButton(id, 'resume'));
    await page.waitForSelector(`${endpointItem(id)}[data-status="active"] .badge.active`, WAIT);
    // Disabled by the dispatcher: the reason is shown, and resuming re-enables it.
    await sql`UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = 'the endpoint answered 410 Gone' WHERE id = ${id}`;
    await page.click('#refresh-endpoints');
    await page.waitForSelector(`${endpointItem(id)}[data-status="disabled"] .problem:text("410 Gone")`, WAIT);
    await page.click(endpointButton(id, 'resume'));
    await page.waitForSelector(`${endpointItem(id)}[data-status="active"]`, WAIT);

    // An edit: the form holds the endpoint's settings (its headers included); only the changes are sent.
    await page.click(endpointButton(id, 'edit'));
    expect(await page.inputValue('[aria-label="Header 1 name"]')).toBe('x-portal-test');
    await page.fill('#ep-description', 'ERP, production');
    await page.uncheck('input[name="eventTypes"][value="order.shipped"]');
    await page.click('#save-endpoint');
    await page.waitForSelector(`${endpointItem(id)} .description:text("ERP, production")`, WAIT);
    const [edited] = await sql<{ event_types: string[] }[]>`SELECT event_types FROM webhook_endpoints WHERE id = ${id}`;
    expect(edited?.event_types).toEqual(['webhook.test']);

    // A new secret, shown once; during the overlap deliveries carry both signatures.
    await page.click(endpointButton(id, 'rotate'));
    await page.waitForSelector('#secret-panel', { state: 'visible', ...WAIT });
    const rotated = await page.inputValue('#secret');
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);
    expect(await page.textContent('#secret-note')).toContain('previous secret also signs until');
    await page.click('#dismiss-secret');
    receiver.secrets = [secret, rotated];

    // Broken again: a second test event fails for good; "every failed since" sends it again.
    failing = true;
    await page.click(endpointButton(id, 'test'));
    const second = await newDelivery([first]);
    await failsForGood(second);
    failing = false;
    await page.click('#redeliver-failed');
    await page.waitForSelector('#notice:text("1 failed delivery since")', WAIT);
    await page.waitForSelector(`${deliveryRow(second)}[data-status="succeeded"]`, WAIT);
    expect(receiver.got.filter((g) => g.answered === 204).map((g) => g.webhookId)).toEqual(
      [first, second].map((m) => `msg_${m.replaceAll('-', '')}`),
    );
    expect(receiver.got.every((g) => g.verified)).toBe(true);

    // The status filter and the list's success rate over both messages.
    await page.selectOption('#delivery-status', 'failed');
    await page.waitForSelector('#no-deliveries', { state: 'visible', ...WAIT });
    await page.selectOption('#delivery-status', '');
    await page.waitForSelector(deliveryRow(second), WAIT);
    await page.click('#refresh-endpoints');
    await page.waitForSelector(`${endpointItem(id)} .success-rate:text("of the last 2")`, WAIT);
    await page.screenshot({ path: join(artifacts, 'webhook-portal.png'), fullPage: true });

    // "More" pages through the API's cursor (finished messages: the dispatcher leaves them be).
    await sql`INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, payload, status)
      SELECT gen_random_uuid(), ${id}, gen_random_uuid(), 'webhook.test', '{}'::jsonb, 'succeeded' FROM generate_series(1, 25)`;
    await page.click('#refresh-deliveries');
    await page.waitForSelector('#more-deliveries', { state: 'visible', ...WAIT });
    expect(await page.$$eval('#deliveries tr', (trs) => trs.length)).toBe(20);
    await page.click('#more-deliveries');
    await page.waitForSelector('#more-deliveries', { state: 'hidden', ...WAIT });
    expect(await page.$$eval('#deliveries tr', (trs) => trs.length)).toBe(27);

    // Deleting asks first.
    page.once('dialog', (d) => void d.accept());
    await page.click(endpointButton(id, 'delete'));
    await page.waitForSelector('#no-endpoints', { state: 'visible', ...WAIT });
    await page.waitForSelector('#deliveries-panel', { state: 'hidden' });
    await eventually(async () => (await sql`SELECT 1 FROM webhook_endpoints WHERE id = ${id}`).length === 0, { what: 'endpoint deleted' });

    // The only error: the browser's own line for the refused URL's 422.
    expect(consoleErrors.filter((e) => !e.includes('status of 422'))).toEqual([]);
  }, 120_000);
});
