/**
 * The nginx configuration of the deployment, rendered for loopback, in front of two real gateway and two
 * real ws-edge processes: requests are balanced, WebSocket upgrades work, a gateway killed with SIGKILL is
 * taken out without failed requests, and `nginx -t` accepts the TLS rendering too.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '@orders/platform/testing';
import { startServices } from '../local/services.mjs';
import { renderNginx } from '../nginx/render.mjs';
import { cfg, FeedClient, metricSum, mode, type Services, stop } from './harness';

const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
const PORT = 18_480;
const base = `http://127.0.0.1:${PORT}`;
const prefix = join(cfg.localDir, 'nginx-test');
const instances: Services[] = [];
let nginx: ChildProcess;
const gatewayPorts = [18_081, 18_082];
const edgePorts = [18_091, 18_092];

async function requestsServed(port: number): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  return metricSum(text, 'orders_http_request_duration_seconds_count', 'route="/healthz"');
}

beforeAll(async () => {
  rmSync(prefix, { recursive: true, force: true });
  mkdirSync(prefix, { recursive: true });
  for (let i = 0; i < 2; i++) {
    const ports = { ...mode.ports, gatewayPort: gatewayPorts[i] as number, wsEdgePort: edgePorts[i] as number };
    const s = await startServices(
      cfg,
      { ...mode, ports },
      { only: ['gateway', 'ws-edge'], env: { TRUSTED_PROXIES: '127.0.0.1' }, onLine: () => {} },
    );
    instances.push(Object.assign(s, { lines: [] }));
  }
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    renderNginx({
      listen: `127.0.0.1:${PORT}`,
      gateways: gatewayPorts.map((p) => `127.0.0.1:${p}`),
      edges: edgePorts.map((p) => `127.0.0.1:${p}`),
      prefix,
      user: 'root',
    }),
  );
  nginx = spawn(NGINX, ['-c', conf, '-p', prefix], { stdio: 'inherit' });
  await eventually(async () => (await fetch(`${base}/nginx-health`)).ok, { what: 'nginx to answer /nginx-health', everyMs: 100 });
}, 120_000);

afterAll(async () => {
  nginx?.kill('SIGQUIT');
  await Promise.all(instances.map((s) => stop(s)));
}, 60_000);

describe('nginx in front of the gateway and the edge', () => {
  test('the same template passes nginx -t, plain and with TLS 1.3', () => {
    const cert = join(prefix, 'tls.crt');
    const key = join(prefix, 'tls.key');
    const made = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    expect(made.status).toBe(0);
    for (const tls of [undefined, { cert, key }]) {
      const file = join(prefix, `check-${tls ? 'tls' : 'plain'}.conf`);
      writeFileSync(
        file,
        renderNginx({ listen: '127.0.0.1:18499', gateways: ['127.0.0.1:1'], edges: ['127.0.0.1:2'], prefix, user: 'root', tls }),
      );
      const r = spawnSync(NGINX, ['-t', '-c', file, '-p', prefix], { encoding: 'utf8' });
      expect({ tls: Boolean(tls), status: r.status, out: r.status === 0 ? '' : r.stderr }).toEqual({
        tls: Boolean(tls),
        status: 0,
        out: '',
      });
    }
  });

  test('balances requests across the gateways', async () => {
    const before = await Promise.all(gatewayPorts.map(requestsServed));
    for (let i = 0; i < 40; i++) expect((await fetch(`${base}/healthz`)).status).toBe(200);
    // Metrics are recorded after each response is sent: wait until the 40 are counted.
    const served = await eventually(
      async () => {
        const after = await Promise.all(gatewayPorts.map(requestsServed));
        const counted = after.map((n, i) => n - (before[i] ?? 0));
        return counted.reduce((a, b) => a + b, 0) >= 40 ? counted : undefined;
      },
      { what: 'the 40 requests counted in the gateways’ metrics' },
    );
    for (const n of served) expect(n).toBeGreaterThanOrEqual(10);
  });

  test('logs JSON lines whose request id is the one the gateway answered with', async () => {
    const r = await fetch(`${base}/healthz`);
    const requestId = r.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f]{32}$/);
    // nginx writes the access log line after the response: wait for it.
    const line = await eventually(
      () =>
        readFileSync(join(prefix, 'access.log'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l))
          .find((l) => l.request_id === requestId),
      { what: `the access log line of request ${requestId}` },
    );
    expect(line).toMatchObject({ method: 'GET', uri: '/healthz', status: 200 });
  });

  test('refuses bodies above 64 KiB before they reach a gateway', async () => {
    const r = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(70_000),
    });
    expect(r.status).toBe(413);
  });

  test('upgrades /ws/orders to an edge and delivers its frames', async () => {
    const minted = await fetch(`${base}/api/v1/auth/dev-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `nginx-${crypto.randomUUID()}@example.com` }),
    });
    expect(minted.status).toBe(200);
    const { accessToken } = (await minted.json()) as { accessToken: string };
    const c = new FeedClient(accessToken, `ws://127.0.0.1:${PORT}/ws/orders`);
    expect((await c.waitFor((f) => f.type === 'ready')).type).toBe('ready');
    c.send('{"type":"nonsense"}');
    expect((await c.waitFor((f) => f.type === 'error')).code).toBe('EDGE_BAD_FRAME');
    c.close();
  });

  test('a gateway killed with SIGKILL is taken out without failed requests', async () => {
    let failed = 0;
    let ok = 0;
    const loop = async (until: number) => {
      while (Date.now() < until) {
        const r = await fetch(`${base}/healthz`).catch(() => undefined);
        if (r?.status === 200) ok += 1;
        else failed += 1;
      }
    };
    const started = Date.now();
    const end = started + 3_000;
    const clients = [loop(end), loop(end), loop(end), loop(end)];
    try {
      // The kill lands while requests are flowing (not before the first one), half a second in, as the
      // scenario has always been: a step of the scenario, not a wait for a condition.
      await eventually(() => ok >= 20, { what: 'requests answered through nginx before the kill', timeoutMs: 2_500 });
      await Bun.sleep(Math.max(0, started + 500 - Date.now()));
      const victim = instances[1]?.procs.find((p) => p.def.name === 'gateway');
      victim?.child.kill('SIGKILL');
    } finally {
      await Promise.all(clients);
    }
    process.stdout.write(`  gateway SIGKILLed behind nginx, 4 clients for 3 s: ${ok} answered, ${failed} failed\n`);
    expect(ok).toBeGreaterThan(100);
    // Health checks are GETs with no body: even one in flight at the kill is retried on the survivor.
    expect(failed).toBe(0);
  });
});
