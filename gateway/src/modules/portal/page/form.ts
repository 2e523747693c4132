/**
 * The endpoint form, for registering an endpoint and for changing one: the URL, the event types as
 * checkboxes (the API's own list, from contracts), the description, custom headers as name/value rows,
 * the rate limit and ordering. It reads what was typed and, for an edit, sends only what changed (an
 * unchanged URL or header set is left out, so a change of description never re-checks the URL).
 */
import { WEBHOOK_EVENT_TYPES } from '@orders/contracts/webhooks';
import { $, el } from '../../pages/shared/dom';
import type { Endpoint, EndpointInput } from './model';

let editing: Endpoint | null = null;

/** The endpoint being edited, or null while registering a new one. */
export const editedEndpoint = () => editing;

/** Draws the event-type checkboxes once. */
export function setUpForm() {
  const box = $('ep-types');
  for (const type of WEBHOOK_EVENT_TYPES) {
    const input = el('input');
    Object.assign(input, { type: 'checkbox', name: 'eventTypes', value: type });
    const label = el('label', undefined, 'check');
    label.append(input, ` ${type}`);
    box.append(label);
  }
  $('add-header').addEventListener('click', () => addHeaderRow('', ''));
}

function addHeaderRow(name: string, value: string) {
  const list = $('ep-headers');
  const n = list.children.length + 1;
  const row = el('div', undefined, 'header-row');
  const nameInput = el('input');
  Object.assign(nameInput, { type: 'text', value: name, maxLength: 64, placeholder: 'x-api-key', className: 'header-name' });
  nameInput.setAttribute('aria-label', `Header ${n} name`);
  const valueInput = el('input');
  Object.assign(valueInput, { type: 'text', value, maxLength: 1024, className: 'header-value' });
  valueInput.setAttribute('aria-label', `Header ${n} value`);
  const remove = el('button', 'Remove', 'secondary');
  remove.type = 'button';
  remove.setAttribute('aria-label', `Remove header ${n}`);
  remove.addEventListener('click', () => row.remove());
  row.append(nameInput, valueInput, remove);
  list.append(row);
}

/** Opens the form, empty for a new endpoint or filled with `ep`'s settings. */
export function openForm(ep: Endpoint | null) {
  editing = ep;
  $('form-title').textContent = ep ? `Change ${ep.url}` : 'Add an endpoint';
  $<HTMLInputElement>('ep-url').value = ep?.url ?? '';
  $<HTMLInputElement>('ep-description').value = ep?.description ?? '';
  $<HTMLInputElement>('ep-rate').value = ep?.rateLimitPerSecond == null ? '' : String(ep.rateLimitPerSecond);
  $<HTMLInputElement>('ep-ordered').checked = ep?.ordered ?? false;
  for (const box of $('ep-types').querySelectorAll<HTMLInputElement>('input[name="eventTypes"]'))
    box.checked = ep ? ep.eventTypes.includes(box.value) : false;
  $('ep-headers').replaceChildren();
  for (const [name, value] of Object.entries(ep?.headers ?? {})) addHeaderRow(name, value ?? '');
  const form = $('endpoint-form');
  form.hidden = false;
  $('ep-url').focus();
  form.scrollIntoView({ block: 'nearest' });
}

export function closeForm() {
  editing = null;
  $('endpoint-form').hidden = true;
  $('ep-headers').replaceChildren();
}

/** What the form holds, or a message saying what is missing. */
export function readForm(): EndpointInput | string {
  const eventTypes = [...$('ep-types').querySelectorAll<HTMLInputElement>('input[name="eventTypes"]:checked')].map((b) => b.value);
  if (eventTypes.length === 0) return 'Choose at least one event type.';
  const headers: Record<string, string> = {};
  for (const row of $('ep-headers').querySelectorAll('.header-row')) {
    const name = row.querySelector<HTMLInputElement>('.header-name')?.value.trim() ?? '';
    const value = row.querySelector<HTMLInputElement>('.header-value')?.value ?? '';
    if (!name && !value) continue;
    if (!name) return 'A custom header needs a name.';
    headers[name.toLowerCase()] = value;
  }
  const rate = $<HTMLInputElement>('ep-rate').value.trim();
  return {
    url: $<HTMLInputElement>('ep-url').value.trim(),
    eventTypes,
    description: $<HTMLInputElement>('ep-description').value,
    ordered: $<HTMLInputElement>('ep-ordered').checked,
    headers,
    // The API checks the range and answers with what is wrong.
    rateLimitPerSecond: rate === '' ? null : Number(rate),
  };
}

const sameHeaders = (a: Record<string, string | null>, b: Record<string, string>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

/** The body of the PATCH: only what differs from `ep`. */
export function changes(ep: Endpoint, input: EndpointInput): Partial<EndpointInput> {
  const body: Partial<EndpointInput> = {};
  if (input.url !== ep.url) body.url = input.url;
  if ([...input.eventTypes].sort().join() !== [...ep.eventTypes].sort().join()) body.eventTypes = input.eventTypes;
  if (input.description !== ep.description) body.description = input.description;
  if (input.ordered !== ep.ordered) body.ordered = input.ordered;
  if (!sameHeaders(ep.headers, input.headers)) body.headers = input.headers;
  if (input.rateLimitPerSecond !== ep.rateLimitPerSecond) body.rateLimitPerSecond = input.rateLimitPerSecond;
  return body;
}
