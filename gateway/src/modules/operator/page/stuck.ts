/**
 * The stuck orders list: the orders waiting longer than their stage's threshold, oldest first (the
 * API's order), filtered by stage, a page at a time. Pages are cursors, so going back walks a stack of
 * the cursors that led here; a refresh reloads the page being looked at.
 */
import type { StuckOrder, StuckPage } from './model';
import { $, badge, cell, duration, el, keyedRows, time } from './view';

const PAGE_SIZE = 20;

export class StuckList {
  stage = '';
  private cursor: string | undefined;
  private back: (string | undefined)[] = [];
  private next: string | null = null;

  constructor(private readonly open: (orderId: string) => void) {}

  /** The request for the page being looked at. */
  path(): string {
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (this.stage) q.set('stage', this.stage);
    if (this.cursor) q.set('cursor', this.cursor);
    return `/api/v1/admin/pipeline/stuck?${q}`;
  }

  /** Back to the first page, of `stage` ('' for every stage). */
  filter(stage: string): void {
    this.stage = stage;
    this.cursor = undefined;
    this.back = [];
    this.next = null;
    $<HTMLSelectElement>('stage-filter').value = stage;
  }

  nextPage(): boolean {
    if (!this.next) return false;
    this.back.push(this.cursor);
    this.cursor = this.next;
    return true;
  }

  previousPage(): boolean {
    if (this.back.length === 0) return false;
    this.cursor = this.back.pop();
    return true;
  }

  render(page: StuckPage, selected: string | null): void {
    this.next = page.nextCursor;
    keyedRows(
      $('stuck'),
      page.items,
      (o) => o.orderId,
      (o, row) => this.create(o, row),
      (o, row) => fill(o, row, selected),
    );
    const first = this.back.length === 0;
    $('no-stuck').textContent = first ? 'No stuck orders.' : 'No stuck orders on this page any more.';
    $('no-stuck').hidden = page.items.length > 0;
    $('stuck-table').hidden = page.items.length === 0;
    $<HTMLButtonElement>('prev-page').disabled = first;
    $<HTMLButtonElement>('next-page').disabled = !page.nextCursor;
    $('page-number').textContent = `Page ${this.back.length + 1}`;
  }

  clear(): void {
    this.filter('');
    $('stuck').replaceChildren();
  }

  private create(o: StuckOrder, row: HTMLTableRowElement): void {
    row.dataset.orderId = o.orderId;
    const id = el('code', `#${o.orderId.slice(-8)}`);
    id.title = o.orderId;
    const first = el('td');
    first.append(id);
    const open = el('button', 'Open', 'secondary');
    open.type = 'button';
    open.setAttribute('aria-label', `Open order ${o.orderId}`);
    open.addEventListener('click', () => this.open(o.orderId));
    const last = el('td');
    last.append(open);
    row.append(first, el('td'), el('td'), el('td', '', 'num'), el('td', '', 'num'), el('td'), last);
  }
}

function fill(o: StuckOrder, row: HTMLTableRowElement, selected: string | null): void {
  row.dataset.stage = o.stage;
  row.dataset.status = o.status;
  row.classList.toggle('selected', o.orderId === selected);
  cell(row, 1).textContent = o.stage;
  cell(row, 2).replaceChildren(badge(o.status));
  cell(row, 3).textContent = duration(o.ageMs);
  cell(row, 4).textContent = duration(o.thresholdMs);
  cell(row, 5).textContent = time(o.updatedAt);
}
