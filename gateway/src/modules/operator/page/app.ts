/**
 * The operator console: sign in, then the pipeline at a glance, the stuck orders and one order's
 * diagnosis, refreshed every 5 s while the tab is visible, one request at a time; a re-drive (after a
 * confirmation) and a dead-letter replay from the diagnosis. This file holds the page's state and flow;
 * overview.ts, stuck.ts and detail.ts draw, pages/shared/api.ts talks to the API. An account that is not
 * an administrator's gets 403 from every call here: the page says so and offers to sign out.
 */
import { ApiError, createApi } from '../../pages/shared/api';
import { bindSignInForm } from '../../pages/shared/signin';
import { clearDetail, renderDetail } from './detail';
import type { DeadLetterView, OrderDiagnosis, PipelineOverview, RedriveResult, ReplayResultView, StuckPage } from './model';
import { renderOverview } from './overview';
import { Refresher } from './refresher';
import { StuckList } from './stuck';
import { $, dateTime, say, time } from './view';

const REFRESH_MS = 5_000;
const api = createApi({ sessionEnded: (reason) => signOut(reason) });
const refresher = new Refresher(refresh, REFRESH_MS);
const stuck = new StuckList((orderId) => open(orderId));
/** The order whose diagnosis is shown, and its last answer (what a re-drive confirms). */
let selected: string | null = null;
let diagnosis: OrderDiagnosis | null = null;

// ── signing in and out ────────────────────────────────────────────────────────────────────────

function showApp() {
  const session = api.session();
  if (!session) return;
  $('signin').hidden = true;
  $('who').textContent = session.email;
  say('Loading the pipeline…');
  refresher.start();
}

function signOut(reason = 'Signed out.') {
  refresher.stop();
  api.signOut();
  selected = null;
  diagnosis = null;
  // Nothing of this session stays on the page.
  clearDetail();
  stuck.clear();
  for (const id of ['statuses', 'stages']) $(id).replaceChildren();
  $('app').hidden = true;
  $('forbidden').hidden = true;
  $('signin').hidden = false;
  say(reason);
}

/** A customer's account: every admin call answers 403 AUTH_FORBIDDEN. */
function showForbidden() {
  refresher.stop();
  $('app').hidden = true;
  $('forbidden').hidden = false;
  $('forbidden-who').textContent = api.session()?.email ?? '';
  say('');
}

function failed(err: unknown) {
  if (err instanceof ApiError && err.status === 403) return showForbidden();
  say((err as Error).message, true);
}

// ── the refresh: overview, stuck page, diagnosis, one after the other ─────────────────────────

async function refresh() {
  if (!api.session()) return;
  const asked = api.signInNumber();
  // A late answer for a session that ended (or a diagnosis that was closed) is dropped.
  const current = () => api.signInNumber() === asked;
  try {
    const overview = await api.call<PipelineOverview>('/api/v1/admin/pipeline');
    if (!current()) return;
    renderOverview(overview, (stage) => {
      stuck.filter(stage);
      void refresher.now();
    });
    if ($('app').hidden) say('');
    $('app').hidden = false;
    const page = await api.call<StuckPage>(stuck.path());
    if (!current()) return;
    stuck.render(page, selected);
    const orderId = selected;
    if (orderId) await loadDiagnosis(orderId, current);
    const updated = $('updated');
    updated.dataset.updatedAt = overview.generatedAt;
    updated.textContent = `Updated at ${time(Date.now())}`;
  } catch (err) {
    if (current()) failed(err);
  }
}

async function loadDiagnosis(orderId: string, current: () => boolean) {
  try {
    const d = await api.call<OrderDiagnosis>(`/api/v1/admin/pipeline/orders/${encodeURIComponent(orderId)}`);
    if (!current() || selected !== orderId) return;
    diagnosis = d;
    renderDetail(d, replay);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404 || selected !== orderId) throw err;
    close();
    say(`Order ${orderId} does not exist (any more).`, true);
  }
}

// ── actions ───────────────────────────────────────────────────────────────────────────────────

function open(orderId: string) {
  if (selected !== orderId) {
    // Nothing of the order shown before may be acted on while this one loads (its Re-drive least of all).
    diagnosis = null;
    clearDetail();
  }
  selected = orderId;
  $('detail').hidden = false;
  $('detail-title').textContent = `Order ${orderId} (loading…)`;
  void refresher.now().then(() => $('detail-title').focus());
}

function close() {
  selected = null;
  diagnosis = null;
  clearDetail();
}

/** Asks first (a modal dialog), then re-publishes the event the order's stage waits for. */
function confirmRedrive() {
  const d = diagnosis;
  if (!d?.redrive.possible || d.order.id !== selected) return;
  $('confirm-text').textContent =
    `Order ${d.order.id} waits in ${d.order.status} for ${d.stage ?? 'its stage'}. ` +
    `Its ${d.redrive.eventType ?? 'last'} event is sent again to ${d.stage ?? 'that stage'}, which skips it if it has processed it already.`;
  const dialog = $<HTMLDialogElement>('confirm-redrive');
  dialog.returnValue = '';
  dialog.addEventListener('close', () => dialog.returnValue === 'confirm' && selected === d.order.id && void redrive(d.order.id), {
    once: true,
  });
  dialog.showModal();
}

async function redrive(orderId: string) {
  const button = $<HTMLButtonElement>('redrive');
  button.disabled = true;
  // A refresh while the re-drive is in flight must not enable the button again (a second send, a second audit row).
  button.dataset.busy = 'true';
  try {
    const r = await api.call<RedriveResult>(`/api/v1/admin/pipeline/orders/${encodeURIComponent(orderId)}/redrive`, { method: 'POST' });
    const result = $('redrive-result');
    result.dataset.eventId = r.eventId;
    result.textContent = `Re-driven at ${dateTime(r.redrivenAt)}: ${r.eventType} ${r.eventId} on ${r.topic}, for ${r.stage}.`;
    say(`Order ${orderId} re-driven through ${r.stage}.`);
  } catch (err) {
    failed(err);
  } finally {
    delete button.dataset.busy;
    await refresher.now();
  }
}

async function replay(entry: DeadLetterView, button: HTMLButtonElement) {
  button.disabled = true;
  try {
    const r = await api.call<ReplayResultView>(`/api/v1/admin/dlq/${encodeURIComponent(entry.id)}/replay`, { method: 'POST' });
    say(
      r.alreadyReplayed
        ? `That dead letter was already replayed (${dateTime(r.replayedAt)}); nothing was sent.`
        : `Dead letter replayed to ${r.retryTopic}.`,
    );
  } catch (err) {
    failed(err);
  } finally {
    // The refresh that follows shows the entry as replayed (and drops the button) once the API says so.
    button.disabled = false;
    await refresher.now();
  }
}

bindSignInForm(api, showApp);
$('signout').addEventListener('click', () => signOut());
$('forbidden-signout').addEventListener('click', () => signOut());
$('stage-filter').addEventListener('change', (e) => {
  stuck.filter((e.target as HTMLSelectElement).value);
  void refresher.now();
});
$('prev-page').addEventListener('click', () => stuck.previousPage() && void refresher.now());
$('next-page').addEventListener('click', () => stuck.nextPage() && void refresher.now());
$('close-detail').addEventListener('click', close);
// Any order by its id (from a ticket, an alert, a dead letter), stuck or not.
$('find-order').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>('find-order-id');
  open(input.value.trim().toLowerCase());
});
$('redrive').addEventListener('click', confirmRedrive);
if (api.session()) showApp();
