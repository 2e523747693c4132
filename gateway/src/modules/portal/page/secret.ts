/**
 * The signing secret, shown once: after a registration or a rotation the API answers with it and never
 * again, so the page shows it until its owner says they kept it, with a copy button (the Clipboard API;
 * where the browser refuses, the text is selected for a manual copy). Hidden, it is gone from the page.
 */
import { $, dateTime, say } from '../../pages/shared/dom';

export function showSecret(secret: string, url: string, previousExpiresAt: string | null) {
  const input = $<HTMLInputElement>('secret');
  input.value = secret;
  $('secret-title').textContent = previousExpiresAt ? 'New signing secret' : 'Signing secret';
  $('secret-note').textContent =
    `The secret that signs deliveries to ${url}. It is shown this once: keep it now.` +
    (previousExpiresAt ? ` The previous secret also signs until ${dateTime(previousExpiresAt)}.` : '');
  $('copy-secret').textContent = 'Copy';
  const panel = $('secret-panel');
  panel.hidden = false;
  panel.scrollIntoView({ block: 'nearest' });
  input.focus();
  input.select();
}

export function hideSecret() {
  $<HTMLInputElement>('secret').value = '';
  $('secret-panel').hidden = true;
}

async function copySecret() {
  const input = $<HTMLInputElement>('secret');
  try {
    await navigator.clipboard.writeText(input.value);
    $('copy-secret').textContent = 'Copied';
    say('The secret is on the clipboard.');
  } catch {
    // No clipboard here (an insecure origin, or permission refused): leave it selected for Ctrl+C.
    input.focus();
    input.select();
    say('The browser did not allow copying: the secret is selected, copy it with Ctrl+C (⌘C).');
  }
}

export function setUpSecret() {
  $('copy-secret').addEventListener('click', () => void copySecret());
  $('dismiss-secret').addEventListener('click', () => hideSecret());
}
