/**
 * The pages' client of the REST API on this origin (the tracking page, the webhook portal, the operator
 * console): the session (a token pair kept in sessionStorage, so the pages of one origin share it within
 * a tab), a fresh access token on demand (one refresh at a time, through the rotating refresh token),
 * authenticated JSON calls that refresh once on a 401, and problem+json answers turned into an error
 * whose message is their `detail` and whose `code` is theirs. No DOM here: each page renders.
 */

export interface Session {
  email: string;
  accessToken: string;
  refreshToken: string;
  /** Epoch ms at which the access token expires. */
  expiresAt: number;
}
const SESSION_KEY = 'orders.session';

export class ApiError extends Error {
  constructor(
    message: string,
    /** The problem's `code` (e.g. AUTH_FORBIDDEN), when the API sent one; the HTTP status otherwise. */
    readonly code: string = '',
    readonly status = 0,
  ) {
    super(message);
  }
}

async function problem(res: Response): Promise<ApiError> {
  const body = await res.json().catch(() => ({}));
  return new ApiError(body.detail ?? body.title ?? `${res.status} ${res.statusText}`, body.code ?? String(res.status), res.status);
}

const postJson = (path: string, body: unknown) =>
  fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

export type Api = ReturnType<typeof createApi>;

/** `sessionEnded`: the API refused the refresh token (the page signs out, showing `reason`). */
export function createApi(hooks: { sessionEnded(reason: string): void }) {
  let session: Session | null = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
  /** Bumped by every sign-in and sign-out (not by a token refresh, which keeps the same person signed in). */
  let generation = 0;

  function saveSession(s: Session | null) {
    session = s;
    if (s) sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
    else sessionStorage.removeItem(SESSION_KEY);
  }

  /** Login and refresh both answer with a token pair. */
  function storePair(email: string, pair: { accessToken: string; refreshToken: string; expiresIn: number }) {
    saveSession({ email, accessToken: pair.accessToken, refreshToken: pair.refreshToken, expiresAt: Date.now() + pair.expiresIn * 1000 });
  }

  let refreshing: Promise<string> | null = null;
  /** A fresh access token through the rotating refresh token; one refresh at a time. */
  function refresh(): Promise<string> {
    refreshing ??= (async () => {
      const s = session;
      if (!s) throw new ApiError('signed out');
      const res = await postJson('/api/v1/auth/refresh', { refreshToken: s.refreshToken });
      // Signed out (or in as someone else) meanwhile: this answer belongs to nobody now.
      if (session !== s) throw new ApiError('signed out');
      if (!res.ok) {
        // Only a refused token ends the session; a 429 or a 503 during a deploy is tried again later.
        if (res.status === 400 || res.status === 401 || res.status === 403) hooks.sessionEnded('Your session ended; sign in again.');
        throw await problem(res);
      }
      const pair = await res.json();
      if (session !== s) throw new ApiError('signed out');
      storePair(s.email, pair);
      return (session as Session | null)?.accessToken ?? '';
    })().finally(() => {
      refreshing = null;
    });
    return refreshing;
  }

  async function accessToken(fresh: boolean): Promise<string> {
    if (!session) throw new ApiError('signed out');
    if (fresh || session.expiresAt - Date.now() < 30_000) return refresh();
    return session.accessToken;
  }

  async function call<T>(path: string, init: RequestInit = {}, retried = false): Promise<T> {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${await accessToken(false)}`);
    if (init.body) headers.set('content-type', 'application/json');
    const res = await fetch(path, { ...init, headers });
    if (res.status === 401 && !retried) {
      await refresh();
      return call(path, init, true);
    }
    if (!res.ok) throw await problem(res);
    if (res.status === 204) return undefined as T;
    return res.json() as Promise<T>;
  }

  return {
    /** The signed-in session, or null. */
    session: () => session,
    /**
     * Which sign-in this is: read it before a call and compare after, to drop an answer (a list, a secret)
     * that arrives after its user signed out, maybe with someone else signed in since. A token refresh in
     * between does not change it (comparing sessions by identity did, and dropped good answers).
     */
    signInNumber: () => generation,
    accessToken,
    /** An authenticated JSON call; a 401 refreshes the token and tries once more. */
    call,

    /** Creates the account first when `create`; then logs in and keeps the token pair. */
    async signIn(email: string, password: string, create: boolean) {
      if (create) {
        const res = await postJson('/api/v1/auth/register', { email, password });
        if (!res.ok) throw await problem(res);
      }
      const res = await postJson('/api/v1/auth/login', { email, password });
      if (!res.ok) throw await problem(res);
      storePair(email, await res.json());
      generation++;
    },

    /** Ends the session on the server (not waited for) and forgets it here. */
    signOut() {
      const s = session;
      if (s) void postJson('/api/v1/auth/logout', { refreshToken: s.refreshToken });
      saveSession(null);
      generation++;
    },
  };
}
