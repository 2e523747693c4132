/**
 * The sign-in form every page has (`#signin` with `#email`, `#password`, and a `#create` button where
 * accounts can be made there): signs in, or creates the account first when `#create` submitted it, clears
 * the password, then hands over to the page; a problem goes to the notice line with its detail.
 */
import type { Api } from './api';
import { $, say } from './dom';

export function bindSignInForm(api: Api, signedIn: () => Promise<void> | void): void {
  $('signin').addEventListener('submit', (e) => {
    e.preventDefault();
    const create = (e as SubmitEvent).submitter?.id === 'create';
    const email = $<HTMLInputElement>('email').value.trim();
    const password = $<HTMLInputElement>('password').value;
    void (async () => {
      try {
        await api.signIn(email, password, create);
        $<HTMLInputElement>('password').value = '';
        await signedIn();
      } catch (err) {
        say((err as Error).message, true);
      }
    })();
  });
}
