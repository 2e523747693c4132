/**
 * The tracking page in real headless Chromium (Debian's, driven by playwright-core) against the real
 * services: create an account, place an order from the product list, and watch its timeline reach
 * `shipped` without a reload; then again while the WebSocket edge restarts, so the page must reconnect
 * and resume. A screenshot is kept in .local/artifacts/.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '@orders/platform/testing';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from './browser';
import { cfg, db, gatewayUrl, type Services, start, stop, useNamespace } from './harness';

const artifacts = join(cfg.localDir, 'artifacts');
const sql = db();
let services: Services;
let edge: Services;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

beforeAll(async () => {
  await useNamespace('e2epage');
  [services, edge] = await Promise.all([start(['gateway', 'workers', 'payment-provider']), start(['ws-edge'])]);
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(err.message));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([services && stop(services), edge && stop(edge)]);
  await sql.end();
}, 60_000);

/** The `li` of the newest order whose id is not in `seen`. */
async function newOrderId(seen: Set<string>): Promise<string> {
  const handle = await page.waitForFunction(
    (known: string[]) =>
      [...document.querySelectorAll<HTMLElement>('li.order')].map((li) => li.dataset.orderId).find((id) => id && !known.includes(id)),
    [...seen],
    { timeout: 10_000 },
  );
  return (await handle.jsonValue()) as string;
}

async function timeline(orderId: string): Promise<string[]> {
  return page.$$eval(`li.order[data-order-id="${orderId}"] ol.timeline li`, (lis) =>
    lis.map((li) => (li as HTMLElement).dataset.status ?? ''),
  );
}

describe('the tracking page in Chromium', () => {
  test('signs up, places an order and watches it reach shipped live, also across an edge restart', async () => {
    expect(existsSync(CHROMIUM)).toBe(true);
    await page.goto(`${gatewayUrl}/track`);
    await page.fill('#email', `page-${randomUUID()}@example.com`);
    await page.fill('#password', 'correct horse battery staple');
    await page.click('#create');
    await page.waitForSelector('#products tr[data-sku="MUG-BLUE"]', { timeout: 10_000 });
    await page.waitForSelector('#feed-state[data-state="live"]', { timeout: 10_000 });
    // Marks this document: a reload would lose it.
    await page.evaluate(() => Object.assign(window, { sameDocument: true }));

    const seen = new Set<string>();
    await page.click('button[aria-label="Order Blue enamel mug"]');
    const first = await newOrderId(seen);
    seen.add(first);
    await page.waitForSelector(`li.order[data-order-id="${first}"][data-status="shipped"]`, { timeout: 30_000 });
    expect(await timeline(first)).toEqual(['pending', 'validated', 'paid', 'reserved', 'shipped']);

    // The edge goes away; the order moves on while the page is disconnected, and arrives on resume.
    await stop(edge);
    await page.waitForSelector('#feed-state[data-state="reconnecting"]', { timeout: 10_000 });
    await page.click('button[aria-label="Order Blue enamel mug"]');
    const second = await newOrderId(seen);
    // Shipped before the edge is back: its updates were all published while the page was disconnected,
    // so only the resume can bring them.
    await eventually(
      async () => (await sql<{ status: string }[]>`SELECT status FROM orders WHERE id = ${second}`)[0]?.status === 'shipped',
      { what: `order ${second} shipped in the database`, timeoutMs: 30_000, everyMs: 100 },
    );
    edge = await start(['ws-edge']);
    await page.waitForSelector(`li.order[data-order-id="${second}"][data-status="shipped"]`, { timeout: 30_000 });
    expect(await timeline(second)).toEqual(['pending', 'validated', 'paid', 'reserved', 'shipped']);
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(await page.textContent('#feed-state')).toBe('live');

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'tracking-page.png'), fullPage: true });
    // The only errors: the attempts to reach the edge while it was down.
    expect(consoleErrors.filter((e) => !e.includes('ERR_CONNECTION_REFUSED'))).toEqual([]);
  }, 90_000);
});
