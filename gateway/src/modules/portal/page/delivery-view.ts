/**
 * The deliveries' DOM: a delivery's row in the table (event, status, attempts, last answer, next
 * attempt, open and redeliver), and one delivery's detail with every attempt (status code, latency,
 * error, the start of the response). Text only; no state and no requests here.
 */
import { $, dateTime, el } from '../../pages/shared/dom';
import type { Attempt, Message, MessageDetail } from './model';

export type RowAction = 'open' | 'redeliver';

const lastAnswer = (m: Pick<Message, 'lastStatusCode' | 'lastError'>) =>
  [m.lastStatusCode === null ? '' : `HTTP ${m.lastStatusCode}`, m.lastError ?? ''].filter(Boolean).join(' · ') || '—';

function rowButton(label: string, action: RowAction, m: Message, act: (a: RowAction, m: Message, b: HTMLButtonElement) => void) {
  const b = el('button', label, action === 'open' ? 'secondary' : undefined);
  b.type = 'button';
  b.dataset.action = action;
  b.setAttribute('aria-label', `${label} delivery ${m.webhookId}`);
  // Sending again what is still on its schedule does nothing: the API only redelivers finished ones.
  if (action === 'redeliver') b.disabled = m.status === 'pending';
  b.addEventListener('click', () => act(action, m, b));
  return b;
}

/** Draws the table of deliveries; `open` is the one whose detail is shown. */
export function renderDeliveries(items: Message[], open: string | null, act: (a: RowAction, m: Message, b: HTMLButtonElement) => void) {
  $('no-deliveries').hidden = items.length > 0;
  $('deliveries').replaceChildren(
    ...items.map((m) => {
      const row = el('tr');
      row.dataset.messageId = m.id;
      row.dataset.status = m.status;
      row.classList.toggle('selected', m.id === open);
      const status = el('td');
      status.append(el('span', m.status, `badge ${m.status}`));
      const actions = el('td', undefined, 'row-actions');
      actions.append(rowButton('Open', 'open', m, act), rowButton('Redeliver', 'redeliver', m, act));
      row.append(
        el('td', m.eventType),
        el('td', dateTime(m.createdAt)),
        status,
        el('td', String(m.attempts), 'num'),
        el('td', lastAnswer(m)),
        el('td', m.nextAttemptAt ? dateTime(m.nextAttemptAt) : '—'),
        actions,
      );
      return row;
    }),
  );
}

function attemptRow(a: Attempt): HTMLTableRowElement {
  const row = el('tr');
  row.dataset.attempt = String(a.attempt);
  row.dataset.outcome = a.outcome;
  const outcome = el('td');
  outcome.append(el('span', a.outcome, `badge ${a.outcome}`));
  const code = el('td', a.statusCode === null ? 'no answer' : String(a.statusCode), 'status-code');
  const response = el('td');
  if (a.responseBody) response.append(el('code', a.responseBody, 'excerpt'));
  row.append(
    el('td', String(a.attempt), 'num'),
    el('td', dateTime(a.startedAt)),
    code,
    el('td', String(a.durationMs), 'num latency'),
    outcome,
    el('td', a.error ?? ''),
    response,
  );
  return row;
}

/** Shows one delivery with every attempt, oldest first. */
export function renderDetail(m: MessageDetail) {
  const panel = $('delivery-detail');
  panel.hidden = false;
  panel.dataset.messageId = m.id;
  panel.dataset.status = m.status;
  $('detail-id').textContent = m.webhookId;
  const next = m.nextAttemptAt ? ` · next attempt ${dateTime(m.nextAttemptAt)}` : '';
  const order = m.orderId ? ` · order ${m.orderId}` : '';
  // A redelivery starts the count again; the history keeps every round.
  const rounds = m.history.length > m.attempts ? ` (${m.history.length} in all, with earlier rounds)` : '';
  $('detail-summary').textContent =
    `${m.eventType}${order} · ${m.status} after ${m.attempts} attempt${m.attempts === 1 ? '' : 's'}${rounds}${next}`;
  $('attempts').replaceChildren(...m.history.map(attemptRow));
  $('no-attempts').hidden = m.history.length > 0;
  $('detail-payload').textContent = JSON.stringify(m.payload, null, 2);
  $<HTMLButtonElement>('redeliver-one').disabled = m.status === 'pending';
}

export function hideDetail() {
  const panel = $('delivery-detail');
  panel.hidden = true;
  delete panel.dataset.messageId;
  $('attempts').replaceChildren();
  $('detail-payload').textContent = '';
}
