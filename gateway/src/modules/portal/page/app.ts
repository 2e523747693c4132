/**
 * The webhook portal: sign in (or create an account; the session is the tracking page's, shared through
 * sessionStorage), then your endpoints with their health, registering and changing them, pause and
 * resume, a new secret, a test event, deleting, and each endpoint's deliveries. This file holds the
 * page's state and flow; pages/shared/api.ts talks to the REST API (a problem's `detail` becomes the
 * error's message, shown in #notice), endpoints.ts and delivery-view.ts build the DOM, form.ts the form,
 * deliveries.ts the deliveries panel, secret.ts the secret shown once.
 */
import { ApiError, createApi } from '../../pages/shared/api';
import { $, say } from '../../pages/shared/dom';
import { bindSignInForm } from '../../pages/shared/signin';
import { DeliveriesPanel } from './deliveries';
import { type EndpointAction, renderEndpoints } from './endpoints';
import { changes, closeForm, editedEndpoint, openForm, readForm, setUpForm } from './form';
import type { Endpoint, Page } from './model';
import { hideSecret, setUpSecret, showSecret } from './secret';

const WEBHOOKS = '/api/v1/webhooks';
const api = createApi({ sessionEnded: (reason) => signOut(reason) });
let endpoints: Endpoint[] = [];
const deliveries = new DeliveriesPanel(api, () => void loadEndpoints().catch(report));

const report = (err: unknown) => say(err instanceof Error ? err.message : String(err), true);
const path = (ep: Endpoint, action = '') => `${WEBHOOKS}/${encodeURIComponent(ep.id)}${action}`;
const announce = (text: string) => {
  $('live-region').textContent = text;
};

// ── signing in ────────────────────────────────────────────────────────────────────────────────

function signOut(reason = 'Signed out.') {
  api.signOut();
  // Nothing of this user stays on the page for the next one (their secret least of all).
  endpoints = [];
  deliveries.close();
  hideSecret();
  closeForm();
  renderEndpoints([], null, act);
  $('app').hidden = true;
  $('signin').hidden = false;
  say(reason);
}

// ── endpoints ─────────────────────────────────────────────────────────────────────────────────

let loads = 0;
async function loadEndpoints() {
  const asked = api.signInNumber();
  const load = ++loads;
  const page = await api.call<Page<Endpoint>>(`${WEBHOOKS}?limit=100`);
  // A late answer for a session that ended, or overtaken by a newer read.
  if (api.signInNumber() !== asked || load !== loads) return;
  endpoints = page.items;
  draw();
}

function draw() {
  renderEndpoints(endpoints, deliveries.endpointId, act);
}

/** The endpoint as the API now has it, in place in the list. */
function replace(ep: Endpoint) {
  endpoints = endpoints.map((e) => (e.id === ep.id ? ep : e));
  draw();
}

/**
 * Whether the sign-in an action started under is still the current one: an answer that arrives after its
 * user signed out (maybe with someone else signed in since) is dropped, a secret above all.
 */
const stillSignedIn = (asked: number) => api.signInNumber() === asked;

async function save(e: SubmitEvent) {
  e.preventDefault();
  const asked = api.signInNumber();
  const input = readForm();
  if (typeof input === 'string') return say(input, true);
  const editing = editedEndpoint();
  const button = $<HTMLButtonElement>('save-endpoint');
  button.disabled = true;
  try {
    if (editing) {
      const body = changes(editing, input);
      if (Object.keys(body).length === 0) say('Nothing changed.');
      else {
        const saved = await api.call<Endpoint>(path(editing), { method: 'PATCH', body: JSON.stringify(body) });
        if (!stillSignedIn(asked)) return;
        replace(saved);
        say(`Saved the changes to ${editing.url}.`);
      }
    } else {
      const created = await api.call<Endpoint & { secret: string }>(WEBHOOKS, { method: 'POST', body: JSON.stringify(input) });
      if (!stillSignedIn(asked)) return;
      endpoints = [created, ...endpoints];
      draw();
      showSecret(created.secret, created.url, null);
      say(`Registered ${created.url}.`);
    }
    closeForm();
  } catch (err) {
    if (stillSignedIn(asked)) report(err);
  } finally {
    button.disabled = false;
  }
}

async function remove(ep: Endpoint) {
  if (!window.confirm(`Delete the endpoint ${ep.url} and all its deliveries? This cannot be undone.`)) return;
  const asked = api.signInNumber();
  await api.call<void>(path(ep), { method: 'DELETE' });
  if (!stillSignedIn(asked)) return;
  if (deliveries.endpointId === ep.id) deliveries.close();
  if (editedEndpoint()?.id === ep.id) closeForm();
  endpoints = endpoints.filter((e) => e.id !== ep.id);
  draw();
  say(`Deleted ${ep.url}.`);
}

async function run(action: EndpointAction, ep: Endpoint) {
  const asked = api.signInNumber();
  switch (action) {
    case 'deliveries':
      await deliveries.open(ep);
      draw();
      $('deliveries-panel').scrollIntoView({ block: 'nearest' });
      return;
    case 'edit':
      return openForm(ep);
    case 'pause':
    case 'resume': {
      const updated = await api.call<Endpoint>(path(ep, `/${action}`), { method: 'POST' });
      if (!stillSignedIn(asked)) return;
      replace(updated);
      say(`${ep.url} is ${updated.status === 'active' ? 'active again' : updated.status}.`);
      return announce(`Endpoint ${updated.status}.`);
    }
    case 'rotate': {
      const rotated = await api.call<{ secret: string; previousSecretExpiresAt: string | null }>(path(ep, '/rotate-secret'), {
        method: 'POST',
        body: JSON.stringify({}),
      });
      if (!stillSignedIn(asked)) return;
      showSecret(rotated.secret, ep.url, rotated.previousSecretExpiresAt);
      say(`A new secret for ${ep.url}.`);
      return loadEndpoints();
    }
    case 'test':
      await api.call(path(ep, '/test'), { method: 'POST' });
      if (!stillSignedIn(asked)) return;
      say(`A test event is on its way to ${ep.url}.`);
      if (deliveries.endpointId === ep.id) await deliveries.queued();
      else await deliveries.open(ep);
      return draw();
    case 'delete':
      return remove(ep);
  }
}

/** An endpoint's button: one request at a time per button. */
function act(action: EndpointAction, ep: Endpoint, button: HTMLButtonElement) {
  button.disabled = true;
  run(action, ep)
    .catch((err) => {
      // Gone meanwhile (deleted in another tab): the list is stale.
      if (err instanceof ApiError && err.status === 404) void loadEndpoints().catch(report);
      report(err);
    })
    .finally(() => {
      button.disabled = false;
    });
}

async function showApp() {
  const session = api.session();
  if (!session) return;
  $('signin').hidden = true;
  $('app').hidden = false;
  $('who').textContent = session.email;
  say('');
  await loadEndpoints().catch(report);
}

setUpForm();
setUpSecret();
bindSignInForm(api, showApp);
$('signout').addEventListener('click', () => signOut());
$('new-endpoint').addEventListener('click', () => openForm(null));
$('cancel-endpoint').addEventListener('click', () => closeForm());
$('endpoint-form').addEventListener('submit', (e) => void save(e as SubmitEvent));
$('refresh-endpoints').addEventListener('click', () => void loadEndpoints().catch(report));
if (api.session()) void showApp();
