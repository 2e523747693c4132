/**
 * An endpoint's item in the portal's list: its URL and status, what it subscribes to, its delivery health
 * (success rate over its newest messages, the last attempt), the breaker's state (consecutive failures,
 * its pause, why it was disabled) and the actions on it. Text only (textContent, never innerHTML with
 * data); no state and no requests here: each button hands its action to `act`.
 */
import { $, dateTime, el } from '../../pages/shared/dom';
import type { Endpoint } from './model';

export type EndpointAction = 'deliveries' | 'edit' | 'pause' | 'resume' | 'rotate' | 'test' | 'delete';

const percent = (rate: number) => `${Math.round(rate * 1000) / 10} %`;

function healthLines(ep: Endpoint): HTMLElement[] {
  const h = ep.health;
  const rate = el('p', undefined, 'success-rate');
  rate.dataset.rate = h.successRate === null ? '' : String(h.successRate);
  if (h.recentMessages === 0) rate.textContent = 'Success rate: no deliveries yet';
  else {
    const finished = h.successRate === null ? 'none finished yet' : percent(h.successRate);
    rate.textContent = `Success rate: ${finished} (of the last ${h.recentMessages}: ${h.succeeded} succeeded, ${h.failed} failed, ${h.pending} pending)`;
  }
  const last = el('p', undefined, 'last-attempt');
  if (h.lastAttemptAt) {
    const answer = h.lastStatusCode === null ? 'no answer' : `HTTP ${h.lastStatusCode}`;
    last.textContent = `Last attempt: ${dateTime(h.lastAttemptAt)} · ${answer} · ${h.lastOutcome ?? ''}`;
    last.dataset.outcome = h.lastOutcome ?? '';
  } else last.textContent = 'Last attempt: none yet';
  return [rate, last];
}

/** The breaker's state and the reason for a disable, when there is something to say. */
function breakerLines(ep: Endpoint): HTMLElement[] {
  const lines: HTMLElement[] = [];
  if (ep.status === 'disabled')
    lines.push(el('p', `Disabled: ${ep.disabledReason ?? 'no reason recorded'}. Resume it to deliver again.`, 'problem'));
  if (ep.consecutiveFailures > 0)
    lines.push(
      el(
        'p',
        `${ep.consecutiveFailures} consecutive failed attempt${ep.consecutiveFailures === 1 ? '' : 's'}` +
          (ep.failingSince ? ` since ${dateTime(ep.failingSince)}` : ''),
        'breaker',
      ),
    );
  if (ep.blockedUntil)
    lines.push(el('p', `Deliveries held back until ${dateTime(ep.blockedUntil)} (the endpoint asked to wait, or kept failing)`, 'breaker'));
  return lines;
}

function settingsLine(ep: Endpoint): HTMLElement {
  const parts = [ep.eventTypes.join(', ')];
  const headers = Object.keys(ep.headers);
  if (headers.length > 0) parts.push(`headers: ${headers.join(', ')}`);
  if (ep.headersUnreadable) parts.push('the custom headers cannot be read: set them again');
  parts.push(ep.rateLimitPerSecond === null ? 'no rate limit' : `at most ${ep.rateLimitPerSecond}/s`);
  if (ep.ordered) parts.push('in order per order');
  if (ep.previousSecretExpiresAt) parts.push(`the previous secret also signs until ${dateTime(ep.previousSecretExpiresAt)}`);
  return el('p', parts.join(' · '), 'settings');
}

function button(label: string, action: EndpointAction, ep: Endpoint, act: (a: EndpointAction, ep: Endpoint, b: HTMLButtonElement) => void) {
  const b = el('button', label, action === 'deliveries' || action === 'test' ? undefined : 'secondary');
  b.type = 'button';
  b.dataset.action = action;
  b.setAttribute('aria-label', `${label} (${ep.url})`);
  b.addEventListener('click', () => act(action, ep, b));
  return b;
}

/** Draws the list of endpoints; `selected` is the one whose deliveries are open. */
export function renderEndpoints(
  endpoints: Endpoint[],
  selected: string | null,
  act: (action: EndpointAction, ep: Endpoint, button: HTMLButtonElement) => void,
) {
  $('no-endpoints').hidden = endpoints.length > 0;
  $('endpoints').replaceChildren(
    ...endpoints.map((ep) => {
      const item = el('li', undefined, 'endpoint');
      item.dataset.endpointId = ep.id;
      item.dataset.status = ep.status;
      item.classList.toggle('selected', ep.id === selected);
      const head = el('div', undefined, 'endpoint-head');
      head.append(el('strong', ep.url, 'url'), el('span', ep.status, `badge ${ep.status}`));
      if (ep.description) head.append(el('span', ep.description, 'description'));
      const actions = el('div', undefined, 'actions');
      actions.append(
        button('Deliveries', 'deliveries', ep, act),
        button('Send test', 'test', ep, act),
        button('Edit', 'edit', ep, act),
        ep.status === 'active' ? button('Pause', 'pause', ep, act) : button('Resume', 'resume', ep, act),
        button('Rotate secret', 'rotate', ep, act),
        button('Delete', 'delete', ep, act),
      );
      item.append(head, settingsLine(ep), ...healthLines(ep), ...breakerLines(ep), actions);
      return item;
    }),
  );
}
