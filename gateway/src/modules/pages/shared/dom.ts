/**
 * DOM helpers shared by the pages: look an element up by id, build one with text (textContent only,
 * never innerHTML with data), format money and times, and the notice line every page has (`#notice`).
 */

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

export const money = (cents: number, currency: string) =>
  new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(cents / 100);
export const time = (iso: string | number) => new Date(iso).toLocaleTimeString();
export const dateTime = (iso: string | number) => new Date(iso).toLocaleString();

/** The page's notice line: what just happened, or what went wrong (`isError`). */
export function say(text: string, isError = false) {
  const status = $('notice');
  status.textContent = text;
  status.classList.toggle('error', isError);
}
