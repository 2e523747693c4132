/**
 * webhook-storm's read-back through the API: each endpoint's deliveries by status (the owner's deliveries
 * listing, paged), their attempts, and the endpoint's breaker state; then the endpoints are deleted, so the
 * failing ones stop being retried for hours after the run.
 */
import { type Api, inParallel } from '../api/client';
import type { User } from '../api/users';
import type { Table } from '../report/model';
import type { ReceiverClass } from './receivers';

export interface Endpoint {
  id: string;
  cls: ReceiverClass;
  owner: User;
}

export interface EndpointOutcome {
  succeeded: number;
  failed: number;
  pending: number;
  attempts: number;
  breakerOpen: boolean;
}

type Page = { items: { attempts: number }[]; nextCursor: string | null };

async function countStatus(api: Api, e: Endpoint, status: string): Promise<{ messages: number; attempts: number }> {
  let messages = 0;
  let attempts = 0;
  let cursor: string | null = null;
  // Bounded: 50 pages of 100 per status and endpoint.
  for (let page = 0; page < 50; page++) {
    const q: string = `status=${status}&limit=100${cursor ? `&cursor=${cursor}` : ''}`;
    const body: Page = await api.expect<Page>(200, 'GET', `/api/v1/webhooks/${e.id}/deliveries?${q}`, { token: e.owner.token });
    messages += body.items.length;
    attempts += body.items.reduce((n, m) => n + m.attempts, 0);
    cursor = body.nextCursor;
    if (!cursor) break;
  }
  return { messages, attempts };
}

export async function outcomes(api: Api, endpoints: Endpoint[]): Promise<Map<string, EndpointOutcome>> {
  const rows = await inParallel(endpoints, 8, async (e) => {
    const [s, f, p] = await Promise.all(['succeeded', 'failed', 'pending'].map((st) => countStatus(api, e, st)));
    const view = await api.expect<{ blockedUntil: string | null }>(200, 'GET', `/api/v1/webhooks/${e.id}`, { token: e.owner.token });
    const out: EndpointOutcome = {
      succeeded: s?.messages ?? 0,
      failed: f?.messages ?? 0,
      pending: p?.messages ?? 0,
      attempts: (s?.attempts ?? 0) + (f?.attempts ?? 0) + (p?.attempts ?? 0),
      breakerOpen: view.blockedUntil !== null && Date.parse(view.blockedUntil) > Date.now(),
    };
    return [e.id, out] as const;
  });
  return new Map(rows);
}

/** Whether every fast endpoint's messages have all succeeded (none pending or failed). */
export async function fastSettled(api: Api, endpoints: Endpoint[]): Promise<boolean> {
  const fast = endpoints.filter((e) => e.cls === 'fast');
  const open = await inParallel(fast, 8, async (e) => {
    const [p, f] = await Promise.all(
      ['pending', 'failed'].map((st) =>
        api.expect<Page>(200, 'GET', `/api/v1/webhooks/${e.id}/deliveries?status=${st}&limit=1`, { token: e.owner.token }),
      ),
    );
    return (p?.items.length ?? 0) + (f?.items.length ?? 0);
  });
  return open.every((n) => n === 0);
}

/**
 * Pauses every endpoint, lets the deliveries in flight finish (`inFlightMs`: the slow receivers' delay),
 * then deletes them: a delivery still in flight when its endpoint is deleted cannot be recorded.
 */
export async function retireEndpoints(api: Api, endpoints: Endpoint[], inFlightMs: number): Promise<void> {
  await inParallel(endpoints, 8, (e) => api.call('POST', `/api/v1/webhooks/${e.id}/pause`, { token: e.owner.token }));
  await new Promise((r) => setTimeout(r, inFlightMs));
  await inParallel(endpoints, 8, (e) => api.call('DELETE', `/api/v1/webhooks/${e.id}`, { token: e.owner.token }));
}

export function outcomeTable(endpoints: Endpoint[], byId: Map<string, EndpointOutcome>, received: Record<ReceiverClass, number>): Table {
  const classes: ReceiverClass[] = ['fast', 'slow', 'failing'];
  return {
    id: 'webhooks',
    title: 'Webhook outcomes per endpoint class (from the deliveries listing, after the drain)',
    columns: ['class', 'endpoints', 'messages', 'succeeded', 'failed', 'pending', 'attempts', 'distinct messages received', 'breaker open'],
    rows: classes.map((cls) => {
      const mine = endpoints.filter((e) => e.cls === cls).map((e) => byId.get(e.id));
      const sum = (k: keyof Omit<EndpointOutcome, 'breakerOpen'>) => mine.reduce((n, o) => n + (o?.[k] ?? 0), 0);
      return [
        cls,
        mine.length,
        sum('succeeded') + sum('failed') + sum('pending'),
        sum('succeeded'),
        sum('failed'),
        sum('pending'),
        sum('attempts'),
        received[cls],
        mine.filter((o) => o?.breakerOpen).length,
      ];
    }),
  };
}
