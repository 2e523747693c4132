/**
 * The pipeline at a glance: how many orders are in each status, and per stage how many wait for it,
 * how long (p50/p95/p99/oldest), after how long one counts as stuck, and how many are. A stage with
 * stuck orders is highlighted, and its count is a button that shows them in the stuck list.
 */
import type { PipelineOverview, StageView } from './model';
import { $, cell, duration, el, keyedRows } from './view';

export function renderOverview(overview: PipelineOverview, showStage: (stage: string) => void): void {
  keyedRows(
    $('statuses'),
    Object.entries(overview.statuses),
    ([status]) => status,
    ([status], item) => {
      item.dataset.status = status;
      item.append(el('span', status, 'status-name'), el('strong', '', 'status-count'));
    },
    ([, count], item) => {
      (item.lastElementChild as HTMLElement).textContent = String(count);
    },
    'li',
  );
  keyedRows(
    $('stages'),
    overview.stages,
    (s) => s.stage,
    (s, row) => {
      row.dataset.stage = s.stage;
      row.append(el('th', s.stage), el('td'), el('td', '', 'num'));
      for (let i = 0; i < 5; i++) row.append(el('td', '', 'num'));
      row.append(el('td', '', 'num stuck'));
      row.cells[0]?.setAttribute('scope', 'row');
    },
    (s, row) => fillStage(s, row, showStage),
  );
  const filter = $<HTMLSelectElement>('stage-filter');
  for (const s of overview.stages)
    if (![...filter.options].some((o) => o.value === s.stage)) filter.append(Object.assign(el('option', s.stage), { value: s.stage }));
}

function fillStage(s: StageView, row: HTMLTableRowElement, showStage: (stage: string) => void): void {
  cell(row, 1).textContent = s.waitingStatus;
  cell(row, 2).textContent = String(s.count);
  const ages = s.ageMs ? [s.ageMs.p50, s.ageMs.p95, s.ageMs.p99, s.ageMs.max] : [null, null, null, null];
  ages.forEach((ms, i) => {
    cell(row, 3 + i).textContent = duration(ms);
  });
  cell(row, 7).textContent = duration(s.thresholdMs);
  const stuck = cell(row, 8);
  stuck.dataset.stuck = String(s.stuck);
  stuck.classList.toggle('alert', s.stuck > 0);
  row.classList.toggle('alert', s.stuck > 0);
  if (s.stuck === 0) {
    stuck.replaceChildren('0');
    return;
  }
  let show = stuck.querySelector('button');
  if (!show) {
    show = el('button', '', 'link');
    show.type = 'button';
    show.addEventListener('click', () => showStage(s.stage));
    stuck.replaceChildren(show);
  }
  show.textContent = String(s.stuck);
  show.setAttribute('aria-label', `Show the ${s.stuck} stuck order${s.stuck === 1 ? '' : 's'} of ${s.stage}`);
}
