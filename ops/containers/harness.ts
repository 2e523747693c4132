/**
 * Drives one compose stage on this machine's Docker engine for the container suite: up (with the local
 * images), the containers and their health, commands inside them, and a customer going through nginx the
 * way the README walkthrough does (account, order, the order's updates on a WebSocket).
 * Traffic goes only to loopback (nginx's published port) and the project's own containers.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FeedClient } from '../clients/feed';
import { blueGreen } from '../compose/bluegreen.mjs';
import { composeCommand, deployment, resetColors } from '../compose/stage.mjs';
import { stackConfig } from '../local/config.mjs';
import { dockerBin, ensureCompose } from './engine.mjs';

const cfg = stackConfig();
export const root = cfg.root;

/**
 * The suite's own compose project (`order-platform-test-<stage>`) and state folder: it takes its stages
 * down with their volumes, so it must never address a developer's `order-platform-<stage>`.
 */
export const PROJECT = 'order-platform-test';

/** Loopback ports nginx is published on in these tests (never 80/443 on every address). */
export const PORTS = { http: 18000, httpsBind: '127.0.0.1:18443', httpBind: '127.0.0.1:18080' };

export interface Container {
  name: string;
  service: string;
  state: string;
  health: string;
}

export class Stage {
  readonly tls: boolean;
  readonly ca: string | undefined;
  readonly overrides: Record<string, string>;
  readonly extraFiles: string[];

  constructor(
    readonly name: 'dev' | 'staging' | 'prod',
    extraFiles: string[] = [],
  ) {
    this.extraFiles = extraFiles;
    this.overrides = {
      HTTP_PORT: String(PORTS.http),
      HTTP_BIND: PORTS.httpBind,
      HTTPS_BIND: PORTS.httpsBind,
      // Every request of these tests comes from one address (the host, through nginx) and a handful of
      // accounts: the per-address and per-account limits are raised so the load is not refused (429).
      RATE_LIMIT_IP: '1000000/1m',
      RATE_LIMIT_LOGIN_IP: '10000/15m',
      RATE_LIMIT_TIER_FREE: '1000000/1m',
      RATE_LIMIT_ENDPOINT_POST_API_V1_ORDERS: '1000000/1m',
      // prod pays through the real provider; here the simulator stands in (ops/containers/prod-simulated-provider.yml).
      ...(name === 'prod' ? { PAYMENT_PROVIDER_URL: 'http://payment-provider:8070' } : {}),
    };
    // Prepares the env file, secrets and certificate the stage reads.
    this.command();
    this.tls = name !== 'dev';
    this.ca = this.tls ? readFileSync(join(cfg.localDir, 'certs', 'tls.crt'), 'utf8') : undefined;
  }

  get base() {
    return this.tls ? `https://127.0.0.1:${PORTS.httpsBind.split(':')[1]}` : `http://127.0.0.1:${PORTS.http}`;
  }

  get wsUrl() {
    return `${this.base.replace(/^http/, 'ws')}/ws/orders`;
  }

  /** What every compose call of this stage is made with (the switch's too). */
  private get options() {
    return { localImages: true, compose: [ensureCompose(cfg)], extraFiles: this.extraFiles, overrides: this.overrides, project: PROJECT };
  }

  /** The compose command line, made afresh each time: a blue-green switch adds the green file. */
  private command() {
    return composeCommand(cfg, this.name, this.options);
  }

  /** Runs `docker compose …` for this stage; throws with its output unless allowFail. */
  compose(args: string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}) {
    const c = this.command();
    const r = spawnSync(c.cmd, [...c.args, ...args], {
      cwd: root,
      env: c.env,
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 600_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    if (r.status !== 0 && !opts.allowFail) throw new Error(`compose ${args.join(' ')} failed (${r.status}):\n${out.slice(-4000)}`);
    return { ok: r.status === 0, out, stdout: r.stdout ?? '' };
  }

  up(extra: string[] = []) {
    const started = Date.now();
    const r = this.compose(['up', '-d', '--wait', '--no-build', ...extra], { allowFail: true, timeoutMs: 900_000 });
    if (!r.ok) {
      const logs = this.compose(['logs', '--tail', '30'], { allowFail: true }).out;
      throw new Error(`${this.name} did not come up:\n${r.out.slice(-2000)}\n--- logs ---\n${logs.slice(-6000)}`);
    }
    return (Date.now() - started) / 1000;
  }

  down() {
    this.compose(['down', '-v', '--remove-orphans', '-t', '20'], { allowFail: true });
    resetColors(deployment(cfg, this.name, PROJECT));
  }

  /** The blue-green switch (ops/compose/bluegreen.mjs) on this stage, with the same files and settings. */
  blueGreen(log?: (line: string) => void) {
    return blueGreen(cfg, this.name, { ...this.options, log });
  }

  containers(): Container[] {
    const out = this.compose(['ps', '-a', '--format', 'json']).stdout.trim();
    if (!out) return [];
    // Compose prints one JSON object per line (v2.21+) or one array.
    const rows = out.startsWith('[') ? JSON.parse(out) : out.split('\n').map((l) => JSON.parse(l));
    return rows.map((r: Record<string, string>) => ({ name: r.Name, service: r.Service, state: r.State, health: r.Health ?? '' }));
  }

  running(service: string) {
    return this.containers().filter((c) => c.service === service && c.state === 'running');
  }

  /** A command inside the first running container of a service. */
  exec(service: string, cmd: string[], opts: { allowFail?: boolean; index?: number } = {}) {
    return this.compose(['exec', '-T', '--index', String(opts.index ?? 1), service, ...cmd], { allowFail: opts.allowFail });
  }

  inspect(container: string, format: string) {
    const r = spawnSync(dockerBin(), ['inspect', container, '--format', format], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`docker inspect ${container}: ${r.stderr}`);
    return r.stdout.trim();
  }

  /**
   * A crash, not a stop: SIGKILL to the container's main process from the host. (`docker kill` would
   * count as stopping it by hand, and the restart policy would leave it down.)
   */
  crash(container: string) {
    const pid = Number(this.inspect(container, '{{.State.Pid}}'));
    if (!(pid > 0)) throw new Error(`${container} is not running`);
    process.kill(pid, 'SIGKILL');
  }

  restarts(container: string) {
    return Number(this.inspect(container, '{{.RestartCount}}'));
  }

  sql(query: string) {
    return this.exec('postgres', ['psql', '-v', 'ON_ERROR_STOP=1', '-U', 'orders', '-d', 'orders', '-At', '-c', query]).stdout.trim();
  }

  /** The demo catalogue (an operator's insert; only dev seeds it at migration). */
  seedProducts() {
    this.sql(readFileSync(join(root, 'ops/db/seeds/dev.sql'), 'utf8'));
  }

  fetch(path: string, init: RequestInit = {}) {
    return fetch(`${this.base}${path}`, { ...init, ...(this.ca ? { tls: { ca: this.ca } } : {}) } as RequestInit);
  }
}

export interface Customer {
  email: string;
  token: string;
}

export async function json(res: Response) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return { raw: text };
  }
}

/** Registers and logs in a customer through nginx. */
export async function customer(stage: Stage, tag: string): Promise<Customer> {
  const email = `${tag}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const password = `Correct-Horse-${Math.random().toString(36).slice(2)}`;
  const headers = { 'content-type': 'application/json' };
  // A 503 says "retry shortly" (e.g. the login limiter fails closed when Redis answers late on this busy
  // machine): a client retries it, a few times.
  const post = async (path: string, want: number) => {
    for (let attempt = 1; ; attempt++) {
      const res = await stage.fetch(path, { method: 'POST', headers, body: JSON.stringify({ email, password }) });
      if (res.status === want) return json(res);
      if (res.status !== 503 || attempt === 5) throw new Error(`${path}: ${res.status} ${JSON.stringify(await json(res))}`);
      await Bun.sleep(200 * attempt);
    }
  };
  await post('/api/v1/auth/register', 201);
  const login = await post('/api/v1/auth/login', 200);
  return { email, token: login.accessToken as string };
}

export async function placeOrder(stage: Stage, c: Customer, key = crypto.randomUUID()) {
  const res = await stage.fetch('/api/v1/orders', {
    method: 'POST',
    headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ items: [{ sku: 'MUG-BLUE', quantity: 1 }], paymentMethodToken: 'pm_card_visa' }),
    // A client gives up after 5 s (and retries with its key): one hung request must not stall the load.
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, body: await json(res), key };
}

/** The README walkthrough through nginx: account, feed, order, `shipped` on the feed, then the read. */
export async function walkthrough(stage: Stage, tag: string) {
  const c = await customer(stage, tag);
  const feed = new FeedClient(c.token, stage.wsUrl, stage.ca ? { ca: stage.ca } : undefined);
  await feed.waitFor((f) => f.type === 'ready', 30_000);
  const started = Date.now();
  const order = await placeOrder(stage, c);
  if (order.status !== 201) throw new Error(`order: ${order.status} ${JSON.stringify(order.body)}`);
  const id = order.body.id as string;
  await feed.waitFor((f) => f.orderId === id && f.status === 'shipped', 60_000);
  const shippedMs = Date.now() - started;
  const read = await json(await stage.fetch(`/api/v1/orders/${id}`, { headers: { authorization: `Bearer ${c.token}` } }));
  const statuses = feed.frames.filter((f) => f.orderId === id).map((f) => f.status);
  feed.close();
  return { customer: c, id, shippedMs, readStatus: read.status as string, statuses };
}
