/**
 * Small DOM pieces the console's renderers share: a duration in words, a badge, and keyed rows. The
 * lists are redrawn every few seconds, so rows are kept by key and only their cells rewritten: a
 * button an operator is about to press (or has focused with the keyboard) is never replaced under them.
 */
import { el } from '../../pages/shared/dom';

export { $, dateTime, el, say, time } from '../../pages/shared/dom';

/** 850 ms, 12.4 s, 3 min 5 s, 2 h 7 min, 3 d 4 h. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const s = ms / 1_000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function badge(status: string): HTMLSpanElement {
  const b = el('span', status, `badge ${status}`);
  b.dataset.status = status;
  return b;
}

/**
 * Brings `body`'s rows (`tr`, or `li` in a list) in line with `items`: one per key (`data-key`), built
 * once by `create`, refilled by `fill` every time, in the items' order; the rows of keys gone are removed.
 */
export function keyedRows<T, K extends 'tr' | 'li' = 'tr'>(
  body: HTMLElement,
  items: readonly T[],
  key: (item: T) => string,
  create: (item: T, row: HTMLElementTagNameMap[K]) => void,
  fill: (item: T, row: HTMLElementTagNameMap[K]) => void,
  tag: K = 'tr' as K,
): void {
  const existing = new Map<string, HTMLElementTagNameMap[K]>();
  for (const row of body.querySelectorAll<HTMLElementTagNameMap[K]>(`:scope > ${tag}`)) existing.set(row.dataset.key ?? '', row);
  const wanted = new Set(items.map(key));
  for (const [k, row] of existing) if (!wanted.has(k)) row.remove();
  items.forEach((item, i) => {
    const k = key(item);
    let row = existing.get(k);
    if (!row) {
      row = el(tag);
      row.dataset.key = k;
      create(item, row);
    }
    fill(item, row);
    // Moved only when out of place: moving a row blurs the button focused in it.
    if (body.children[i] !== row) body.insertBefore(row, body.children[i] ?? null);
  });
}

/** `row`'s `n`th cell (rows here are built with all their cells by `create`). */
export const cell = (row: HTMLTableRowElement, n: number) => row.cells[n] as HTMLTableCellElement;
