/**
 * The unmeasured side of a run: set-up and read-back through the target's public API (users, products,
 * webhook endpoints, deliveries, final order states). Every call is bounded in time; an answer that is not
 * the expected one is an `ApiError` naming the route, status and the problem's code.
 */

export class ApiError extends Error {
  constructor(
    readonly route: string,
    readonly status: number,
    readonly problem: string,
  ) {
    super(`${route} answered ${status}${problem ? ` (${problem})` : ''}`);
  }
}

export interface ApiAnswer<T> {
  status: number;
  body: T;
  headers: Headers;
}

export class Api {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 15_000,
  ) {}

  /** Any answer, parsed as JSON when it is JSON. */
  async call<T = unknown>(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: AbortSignal.timeout(this.timeoutMs),
      redirect: 'manual',
    });
    const text = await res.text();
    let body: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        // Left as text: the caller's status check will say what was wrong.
      }
    }
    return { status: res.status, body: body as T, headers: res.headers };
  }

  /** The answer's body when its status is one of `expect`; an ApiError otherwise. */
  async expect<T>(
    expect: number | number[],
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const a = await this.call<T>(method, path, opts);
    if (!(Array.isArray(expect) ? expect : [expect]).includes(a.status)) {
      const code = typeof a.body === 'object' && a.body !== null ? String((a.body as { code?: unknown }).code ?? '') : '';
      throw new ApiError(`${method} ${path.split('?')[0]}`, a.status, code);
    }
    return a.body;
  }
}

/** Runs `fn` over `items` with at most `concurrency` at once, keeping the order of the results. */
export async function inParallel<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
