/** The tracking page's routes (served, bundled, locked down) and its feed client's sequence counting. */
import { describe, expect, test } from 'bun:test';
import { loadEnv } from '../src/env';
import { SeqWatermark } from '../src/modules/tracking/page/feed';
import { suiteGateway } from './support';

const gw = suiteGateway({ TRACKING_WS_URL: 'ws://127.0.0.1:18090/ws/orders' });

describe('the tracking page', () => {
  test('serves the page with the edge’s address and a strict Content-Security-Policy', async () => {
    const r = await gw.call('GET', '/track');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toStartWith('text/html');
    expect(String(r.json)).toContain('data-ws-url="ws://127.0.0.1:18090/ws/orders"');
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self' ws://127.0.0.1:18090");
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
  });

  test('bundles its TypeScript for the browser', async () => {
    const js = await gw.call('GET', '/track/app.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toStartWith('text/javascript');
    expect(String(js.json)).toContain('/ws/orders');
    expect(String(js.json)).not.toContain('import ');
    const css = await gw.call('GET', '/track/app.css');
    expect(css.status).toBe(200);
  });

  test('refuses a TRACKING_WS_URL that is not a WebSocket URL', () => {
    const base = { ...process.env, DEPLOY_STAGE: 'test' };
    expect(() => loadEnv({ ...base, TRACKING_WS_URL: 'http://evil.example/"><script>' })).toThrow('TRACKING_WS_URL');
    expect(loadEnv({ ...base, TRACKING_WS_URL: 'wss://orders.example.com/ws/orders' }).TRACKING_WS_URL).toBe(
      'wss://orders.example.com/ws/orders',
    );
  });
});

describe('SeqWatermark (the page’s resume point)', () => {
  test('advances only over an unbroken run, whatever the arrival order, and drops repeats', () => {
    const w = new SeqWatermark();
    expect(w.see(12)).toBe(true); // live, before the edge said where the user stands
    w.start(10);
    expect(w.value).toBe(10);
    expect(w.see(11)).toBe(true);
    expect(w.value).toBe(12); // 11 closes the hole up to the 12 seen early
    expect(w.see(14)).toBe(true);
    expect(w.value).toBe(12); // 13 still on its way: resume after 12
    expect(w.see(14)).toBe(false);
    expect(w.see(9)).toBe(false);
    expect(w.see(13)).toBe(true);
    expect(w.value).toBe(14);
  });

  test('forgets everything on resync', () => {
    const w = new SeqWatermark();
    w.start(3);
    w.see(4);
    w.forget();
    expect(w.value).toBeNull();
    w.start(40);
    expect(w.see(4)).toBe(false);
    expect(w.see(41)).toBe(true);
  });
});
