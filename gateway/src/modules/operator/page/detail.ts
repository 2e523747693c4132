/**
 * One order's diagnosis: its facts, its status timeline with the events behind each step, its last
 * event and whether the stage it waits for has processed it (if so, only the projector is behind),
 * its dead letters with a Replay button each, and whether a re-drive is possible (the button itself
 * lives in index.html; app.ts runs it).
 */
import type { DeadLetterView, OrderDiagnosis } from './model';
import { $, badge, cell, dateTime, duration, el, keyedRows } from './view';

export function renderDetail(d: OrderDiagnosis, replay: (entry: DeadLetterView, button: HTMLButtonElement) => void): void {
  const { order } = d;
  const section = $('detail');
  section.hidden = false;
  section.dataset.orderId = order.id;
  section.dataset.status = order.status;
  section.dataset.stuck = String(d.stuck);
  $('detail-title').textContent = `Order ${order.id}`;
  renderFacts(d);
  renderTimeline(d);
  renderLastEvent(d);
  renderDeadLetters(d.deadLetters, replay);
  const redrive = $<HTMLButtonElement>('redrive');
  redrive.disabled = !d.redrive.possible || redrive.dataset.busy === 'true';
  $('redrive-reason').textContent = d.redrive.possible
    ? `Publishes the order’s ${d.redrive.eventType ?? 'last'} event again for ${d.stage ?? 'its stage'}.${d.redrive.note ? ` ${d.redrive.note}` : ''}`
    : `Not possible: ${d.redrive.reason ?? 'the API gave no reason'}.`;
}

export function clearDetail(): void {
  const section = $('detail');
  section.hidden = true;
  delete section.dataset.orderId;
  delete section.dataset.status;
  for (const id of ['facts', 'timeline', 'dead-letters']) $(id).replaceChildren();
  $('last-event').textContent = '';
  $('redrive-result').textContent = '';
  $<HTMLButtonElement>('redrive').disabled = true;
  $('redrive-reason').textContent = '';
}

function renderFacts(d: OrderDiagnosis): void {
  const { order } = d;
  const facts: [string, string | Node][] = [
    ['Status', badge(order.status)],
    ['Status reason', order.statusReason ?? '—'],
    ['Waits for', d.stage ?? 'nothing (final)'],
    ['Waiting', d.ageMs === null ? '—' : `${duration(d.ageMs)} (stuck after ${duration(d.thresholdMs)})`],
    ['Stuck', d.stuck ? 'yes' : 'no'],
    ['Customer', order.userId],
    ['Version', `${order.version} (revision ${order.revision})`],
    ['Placed', dateTime(order.createdAt)],
    ['Last change', dateTime(order.updatedAt)],
  ];
  $('facts').replaceChildren(
    ...facts.flatMap(([term, value]) => {
      const dd = el('dd');
      dd.append(value);
      return [el('dt', term), dd];
    }),
  );
}

function renderTimeline(d: OrderDiagnosis): void {
  const steps = [...d.timeline].sort((a, b) => a.version - b.version);
  $('timeline').replaceChildren(
    ...steps.map((t) => {
      const step = el('li');
      step.dataset.status = t.toStatus;
      if (t.eventId) step.dataset.eventId = t.eventId;
      const event = el('code', t.eventId ?? 'no event id');
      step.append(
        el('strong', `${t.fromStatus ?? '∅'} → ${t.toStatus}`),
        ` · v${t.version} · ${dateTime(t.occurredAt)}${t.reason ? ` · ${t.reason}` : ''} · event `,
        event,
      );
      return step;
    }),
  );
}

function renderLastEvent(d: OrderDiagnosis): void {
  const p = $('last-event');
  const e = d.lastEvent;
  if (!e) {
    p.textContent = d.lastEventReason ?? 'No event recorded for this order.';
    delete p.dataset.processed;
    return;
  }
  // Whether the stage the order waits for has this event already: if so only the projector is behind.
  let verdict = '';
  delete p.dataset.processed;
  if (d.stage) {
    verdict = e.processedByNextStage ? ` — processed by ${d.stage} — the projector lags` : ` — not processed by ${d.stage}`;
    p.dataset.processed = String(e.processedByNextStage);
  }
  p.dataset.eventId = e.eventId;
  p.replaceChildren(el('strong', e.eventType), ' ', el('code', e.eventId), ` at ${dateTime(e.occurredAt)}${verdict}`);
}

function renderDeadLetters(entries: DeadLetterView[], replay: (entry: DeadLetterView, button: HTMLButtonElement) => void): void {
  $('no-dead-letters').hidden = entries.length > 0;
  $('dead-letters-table').hidden = entries.length === 0;
  keyedRows(
    $('dead-letters'),
    entries,
    (e) => e.id,
    (e, row) => {
      row.dataset.dlqId = e.id;
      for (let i = 0; i < 7; i++) row.append(el('td', '', i === 4 ? 'num' : undefined));
    },
    (e, row) => {
      cell(row, 0).textContent = e.stage;
      cell(row, 1).textContent = e.eventType ?? 'undecodable';
      cell(row, 2).textContent = e.errorCode ?? '—';
      cell(row, 3).textContent = e.errorReason ?? '—';
      cell(row, 4).textContent = e.attempts === null ? '—' : String(e.attempts);
      cell(row, 5).textContent = dateTime(e.deadLetteredAt);
      row.dataset.replayed = String(e.replay !== null);
      const last = cell(row, 6);
      if (e.replay) {
        last.textContent = `replayed ${dateTime(e.replay.replayedAt)}`;
        return;
      }
      if (last.querySelector('button')) return;
      const button = el('button', 'Replay');
      button.type = 'button';
      button.setAttribute('aria-label', `Replay dead letter ${e.id} (${e.eventType ?? 'event'} at ${e.stage})`);
      button.addEventListener('click', () => replay(e, button));
      last.replaceChildren(button);
    },
  );
}
