/**
 * The dead-letter queue from a terminal, through the gateway's admin API (/api/v1/admin/dlq):
 *
 *   npm run dlq -- list [--stage S] [--order ID] [--all] [--limit N] [--json]
 *   npm run dlq -- show ID [--json]
 *   npm run dlq -- replay ID... [--json]
 *
 * `list` shows entries not yet replayed, newest first (`--all`: replayed ones too), up to --limit (50).
 * The gateway is --url, else ORDERS_GATEWAY_URL, else the local one (GATEWAY_PORT, 8080). The token is
 * ORDERS_ADMIN_TOKEN (never an argument: shells and npm echo those); against a local dev or test stack
 * without it, a dev token for an admin is minted (POST /api/v1/auth/dev-token). The token goes over
 * https, or plain http to a loopback gateway only; redirects are refused (one would carry it on). Exit codes: 0 done,
 * 1 failed (an API error, the gateway unreachable, a replay refused), 2 usage.
 */
import { parseArgs } from 'node:util';
import { ConsumerGroups } from '@orders/contracts';

const USAGE = `usage: npm run dlq -- list [--stage ${Object.keys(ConsumerGroups).join('|')}] [--order ID] [--all] [--limit N] [--json]
       npm run dlq -- show ID [--json]
       npm run dlq -- replay ID... [--json]
options: --url URL (default ORDERS_GATEWAY_URL or http://127.0.0.1:$GATEWAY_PORT, 8080); token in ORDERS_ADMIN_TOKEN`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEV_ADMIN_EMAIL = 'dlq-cli@example.com';

class UsageError extends Error {}
class ApiError extends Error {}

interface Entry {
  id: string;
  stage: string;
  orderId: string | null;
  eventType: string | null;
  errorCode: string | null;
  errorReason: string | null;
  attempts: number | null;
  deadLetteredAt: string;
  replay: { replayedAt: string; replayedBy: string } | null;
}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      stage: { type: 'string' },
      order: { type: 'string' },
      all: { type: 'boolean', default: false },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
      url: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...ids] = positionals;
  if (values.help) return undefined;
  if (command !== 'list' && command !== 'show' && command !== 'replay') throw new UsageError(`unknown command: ${command ?? '(none)'}`);
  if (command === 'list' && ids.length > 0) throw new UsageError('list takes no ids');
  if (command === 'show' && ids.length !== 1) throw new UsageError('show takes exactly one id');
  if (command === 'replay' && ids.length === 0) throw new UsageError('replay takes at least one id');
  for (const id of ids) if (!UUID.test(id)) throw new UsageError(`not a dead-letter id (a UUID): ${id}`);
  if (command !== 'list' && (values.stage || values.order || values.all || values.limit))
    throw new UsageError('--stage, --order, --all and --limit are for list');
  if (values.stage !== undefined && !Object.hasOwn(ConsumerGroups, values.stage)) throw new UsageError(`unknown stage: ${values.stage}`);
  if (values.order !== undefined && !UUID.test(values.order)) throw new UsageError(`--order must be an order id (a UUID): ${values.order}`);
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!/^[0-9]{1,5}$/.test(values.limit ?? '50') || limit < 1 || limit > 10_000) throw new UsageError('--limit must be 1 to 10000');
  let url: URL;
  try {
    url = new URL(values.url ?? process.env.ORDERS_GATEWAY_URL ?? `http://127.0.0.1:${process.env.GATEWAY_PORT ?? '8080'}`);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new UsageError('--url must be an http(s) URL');
  }
  return { command, values: { ...values, limit }, ids, url };
}

function isLoopback(url: URL): boolean {
  return ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

async function call(base: URL, method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(new URL(path, base), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'error',
    });
  } catch (err) {
    throw new ApiError(`gateway unreachable at ${base.origin}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    // A proxy's HTML error page: reported by status below.
  }
  if (!res.ok)
    throw new ApiError(`${method} ${path}: ${res.status} ${json.code ?? ''} ${json.detail ?? json.title ?? text.slice(0, 200)}`.trim());
  return json;
}

/** ORDERS_ADMIN_TOKEN, or a dev token for an admin from a local dev/test gateway. */
async function adminToken(base: URL): Promise<string> {
  const given = process.env.ORDERS_ADMIN_TOKEN?.trim();
  if (given && base.protocol === 'http:' && !isLoopback(base))
    throw new UsageError(`refusing to send ORDERS_ADMIN_TOKEN over plain http to ${base.host}: use https`);
  if (given) return given;
  if (!isLoopback(base)) throw new UsageError('set ORDERS_ADMIN_TOKEN to an administrator’s access token');
  const r = await call(base, 'POST', '/api/v1/auth/dev-token', undefined, { email: DEV_ADMIN_EMAIL, role: 'admin' }).catch((err: Error) => {
    throw new ApiError(`no ORDERS_ADMIN_TOKEN, and no dev token from ${base.origin} (${err.message})`);
  });
  return String(r.accessToken);
}

function table(entries: Entry[]): string {
  const rows = entries.map((e) => [
    e.id,
    e.stage,
    e.orderId ?? '-',
    e.eventType ?? '-',
    e.errorCode ?? '-',
    String(e.attempts ?? '-'),
    e.deadLetteredAt,
    e.replay ? `replayed ${e.replay.replayedAt}` : '',
  ]);
  const head = ['ID', 'STAGE', 'ORDER', 'EVENT', 'ERROR', 'ATTEMPTS', 'DEAD-LETTERED', 'REPLAY'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function main(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (!args) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { command, values, ids, url } = args;
  const token = await adminToken(url);
  const out = (value: unknown, text: string) => process.stdout.write(`${values.json ? JSON.stringify(value, null, 2) : text}\n`);
  if (command === 'list') {
    const entries: Entry[] = [];
    let cursor: string | null = null;
    do {
      const q = new URLSearchParams({ limit: String(Math.min(100, values.limit - entries.length)) });
      if (values.stage) q.set('stage', values.stage);
      if (values.order) q.set('orderId', values.order);
      if (!values.all) q.set('replayed', 'false');
      if (cursor) q.set('cursor', cursor);
      const page = await call(url, 'GET', `/api/v1/admin/dlq?${q}`, token);
      entries.push(...(page.items as Entry[]));
      cursor = page.nextCursor as string | null;
    } while (cursor && entries.length < values.limit);
    out(entries, entries.length === 0 ? 'no dead letters' : table(entries));
    return 0;
  }
  if (command === 'show') {
    const entry = await call(url, 'GET', `/api/v1/admin/dlq/${ids[0]}`, token);
    out(entry, JSON.stringify(entry, null, 2));
    return 0;
  }
  let failed = 0;
  const results: unknown[] = [];
  for (const id of ids) {
    try {
      const r = await call(url, 'POST', `/api/v1/admin/dlq/${id}/replay`, token);
      results.push(r);
      if (!values.json)
        process.stdout.write(`${id}  ${r.alreadyReplayed ? 'already replayed' : 'replayed'} at ${r.replayedAt} → ${r.retryTopic}\n`);
    } catch (err) {
      failed++;
      results.push({ id, error: err instanceof Error ? err.message : String(err) });
      if (!values.json) process.stderr.write(`${id}  failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  return failed > 0 ? 1 : 0;
}

// exitCode rather than exit(): a large listing written to a pipe is still flushing when main returns.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`${err.message}\n${USAGE}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
