/**
 * The soak's users as the platform sees them: their tokens (re-minted during the run, since access tokens
 * live 15 minutes), webhook endpoints at the local receiver, and WebSocket watchers that count status
 * frames and sequence gaps.
 */

/** Mints a token for each of `count` fixed users (same emails each time), in rounds of 50. */
export function tokenMinter(base: string, count: number): () => Promise<string[]> {
  const emails = Array.from({ length: count }, () => `soak-${crypto.randomUUID()}@example.com`);
  return async () => {
    const tokens: string[] = [];
    for (let i = 0; i < emails.length; i += 50)
      tokens.push(
        ...(await Promise.all(
          emails.slice(i, i + 50).map(async (email) => {
            const r = await fetch(`${base}/api/v1/auth/dev-token`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ email, tier: 'enterprise' }),
            });
            return ((await r.json()) as { accessToken: string }).accessToken;
          }),
        )),
      );
    return tokens;
  };
}

/** One webhook endpoint per token, for paid and shipped orders, at `url`. */
export async function registerEndpoints(base: string, tokens: string[], url: string): Promise<void> {
  for (const token of tokens) {
    const r = await fetch(`${base}/api/v1/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url, eventTypes: ['order.paid', 'order.shipped'] }),
    });
    if (r.status !== 201) throw new Error(`webhook registration answered ${r.status}: ${await r.text()}`);
  }
}

/** A watcher per token on the edge, once each is ready; `counts` grows as status frames arrive. */
export async function watchers(wsPort: number, tokens: string[]) {
  const counts = { frames: 0, gaps: 0 };
  const sockets = await Promise.all(
    tokens.map(
      (token) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${wsPort}/ws/orders`);
          let last = -1;
          ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
          ws.onmessage = (e) => {
            const f = JSON.parse(String(e.data)) as { type: string; seq?: number };
            if (f.type === 'ready') {
              if (last < 0) last = f.seq ?? 0;
              resolve(ws);
            }
            if (f.type === 'order.status' && typeof f.seq === 'number') {
              counts.frames += 1;
              if (last >= 0 && f.seq !== last + 1) counts.gaps += 1;
              last = f.seq;
            }
          };
          ws.onerror = () => reject(new Error('WebSocket failed'));
        }),
    ),
  );
  return { sockets, counts };
}
