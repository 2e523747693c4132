/**
 * The deliveries panel of one endpoint: its deliveries newest first (a status filter, "more" through the
 * API's cursor), one delivery's attempts, redelivering one, and every failed one since a chosen time.
 * While a shown delivery is still pending the panel re-reads itself, soon after an action and then less
 * often (1 s up to 5 s), so a delivery is seen to succeed or fail without a reload; nothing is polled while
 * nothing is pending or the panel is closed.
 */
import type { Api } from '../../pages/shared/api';
import { $, say } from '../../pages/shared/dom';
import { hideDetail, type RowAction, renderDeliveries, renderDetail } from './delivery-view';
import type { Endpoint, Message, MessageDetail, Page } from './model';

const POLL_MS = [1_000, 1_000, 2_000, 3_000, 5_000];
const PAGE = 20;

/** `datetime-local`'s value for a moment, in the browser's time zone. */
export const localInputValue = (ms: number) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

export class DeliveriesPanel {
  private endpoint: Endpoint | null = null;
  private items: Message[] = [];
  private nextCursor: string | null = null;
  private openId: string | null = null;
  private detail: MessageDetail | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private polls = 0;
  /** A look was due while the tab was hidden: taken when it is visible again. */
  private dueWhenVisible = false;
  /** Bumped on every open and close: answers for an earlier view are dropped. */
  private generation = 0;

  constructor(
    private readonly api: Api,
    /** A delivery appeared or moved on (queued again, succeeded, failed for good): the endpoint's health changed. */
    private readonly changed: () => void,
  ) {
    $('delivery-status').addEventListener('change', () => void this.guard(() => this.reload(true)));
    $('more-deliveries').addEventListener('click', () => void this.guard(() => this.more()));
    $('refresh-deliveries').addEventListener('click', () => void this.guard(() => this.reload(true)));
    $('close-deliveries').addEventListener('click', () => this.close());
    document.addEventListener('visibilitychange', () => {
      if (document.hidden || !this.dueWhenVisible) return;
      this.dueWhenVisible = false;
      if (this.endpoint) void this.guard(() => this.reload());
    });
    $('close-detail').addEventListener('click', () => this.closeDetail());
    $('redeliver-one').addEventListener('click', () => {
      if (this.openId) void this.guard(() => this.redeliver(this.openId as string));
    });
    $('redeliver-since-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.guard(() => this.redeliverSince());
    });
  }

  get endpointId() {
    return this.endpoint?.id ?? null;
  }

  private base() {
    return `/api/v1/webhooks/${encodeURIComponent(this.endpoint?.id ?? '')}`;
  }

  /** Runs an action; a problem goes to the notice line with its detail. */
  private async guard(action: () => Promise<void>) {
    try {
      await action();
    } catch (err) {
      say((err as Error).message, true);
    }
  }

  async open(ep: Endpoint) {
    this.close();
    this.endpoint = ep;
    $('deliveries-of').textContent = ep.url;
    $<HTMLSelectElement>('delivery-status').value = '';
    $<HTMLInputElement>('redeliver-since').value = localInputValue(Date.now() - 24 * 3_600_000);
    $('deliveries-panel').hidden = false;
    await this.guard(() => this.reload(true));
  }

  close() {
    this.generation++;
    clearTimeout(this.timer);
    this.dueWhenVisible = false;
    this.endpoint = null;
    this.items = [];
    this.nextCursor = null;
    this.closeDetail();
    renderDeliveries([], null, () => {});
    $('deliveries-panel').hidden = true;
  }

  private closeDetail() {
    this.openId = null;
    this.detail = null;
    hideDetail();
    this.draw();
  }

  private draw() {
    renderDeliveries(this.items, this.openId, (action, m, b) => void this.guard(() => this.onRow(action, m, b)));
    $('more-deliveries').hidden = this.nextCursor === null;
  }

  private async onRow(action: RowAction, m: Message, b: HTMLButtonElement) {
    b.disabled = true;
    try {
      if (action === 'open') await this.openDetail(m.id);
      else await this.redeliver(m.id);
    } finally {
      b.disabled = false;
    }
  }

  private query(cursor: string | null, limit: number) {
    const q = new URLSearchParams({ limit: String(limit) });
    const status = $<HTMLSelectElement>('delivery-status').value;
    if (status) q.set('status', status);
    if (cursor) q.set('cursor', cursor);
    return `${this.base()}/deliveries?${q}`;
  }

  /** The newest page again, as long as what is shown (up to 100); `fresh`: after an action, poll soon. */
  async reload(fresh = false) {
    if (!this.endpoint) return;
    const asked = this.generation;
    const limit = Math.min(100, Math.max(PAGE, this.items.length));
    const page = await this.api.call<Page<Message>>(this.query(null, limit));
    if (asked !== this.generation) return;
    const before = new Map(this.items.map((m) => [m.id, m.status]));
    // A delivery that is new or moved on (queued again, succeeded, failed for good) changed the endpoint's health.
    let moved = page.items.some((m) => before.get(m.id) !== m.status);
    this.items = page.items;
    this.nextCursor = page.nextCursor;
    if (this.openId) {
      const detail = await this.api.call<MessageDetail>(`${this.base()}/deliveries/${this.openId}`);
      if (asked !== this.generation) return;
      moved ||= this.detail !== null && this.detail.status !== detail.status;
      this.detail = detail;
      renderDetail(detail);
    }
    this.draw();
    if (moved) this.changed();
    this.schedule(fresh);
  }

  private async more() {
    if (!this.endpoint || !this.nextCursor) return;
    const asked = this.generation;
    const page = await this.api.call<Page<Message>>(this.query(this.nextCursor, PAGE));
    if (asked !== this.generation) return;
    const known = new Set(this.items.map((m) => m.id));
    this.items.push(...page.items.filter((m) => !known.has(m.id)));
    this.nextCursor = page.nextCursor;
    this.draw();
  }

  private async openDetail(id: string) {
    const asked = this.generation;
    const detail = await this.api.call<MessageDetail>(`${this.base()}/deliveries/${id}`);
    if (asked !== this.generation) return;
    this.openId = id;
    this.detail = detail;
    renderDetail(detail);
    this.draw();
    $('delivery-detail').scrollIntoView({ block: 'nearest' });
    this.schedule(true);
  }

  private async redeliver(id: string) {
    const queued = await this.api.call<{ count: number }>(`${this.base()}/deliveries/${id}/redeliver`, { method: 'POST' });
    say(queued.count > 0 ? 'Delivery queued again.' : 'That delivery is still on its schedule: nothing to send again.');
    await this.reload(true);
  }

  private async redeliverSince() {
    const raw = $<HTMLInputElement>('redeliver-since').value;
    const since = new Date(raw);
    if (!raw || Number.isNaN(since.getTime())) return say('Choose a date and time.', true);
    const queued = await this.api.call<{ count: number }>(`${this.base()}/redeliver`, {
      method: 'POST',
      body: JSON.stringify({ since: since.toISOString() }),
    });
    say(`${queued.count} failed deliver${queued.count === 1 ? 'y' : 'ies'} since ${since.toLocaleString()} queued again.`);
    await this.reload(true);
  }

  /** Another look soon while anything shown is pending and the tab is visible; none otherwise. */
  private schedule(fresh: boolean) {
    clearTimeout(this.timer);
    if (fresh) this.polls = 0;
    const pending = this.items.some((m) => m.status === 'pending') || this.detail?.status === 'pending';
    if (!pending || !this.endpoint) return;
    const delay = POLL_MS[Math.min(this.polls++, POLL_MS.length - 1)];
    this.timer = setTimeout(() => {
      // A hidden tab polls nothing (a delivery can stay pending for hours of backoff): looked at on return.
      if (document.hidden) this.dueWhenVisible = true;
      else void this.guard(() => this.reload());
    }, delay);
  }

  /** A new delivery was queued (a test event): show it and follow it. */
  async queued() {
    await this.reload(true);
  }
}
