/** Register or log in. Either sets the HttpOnly session cookie; then the app takes over. */
import type { ParleyClient } from '../../client/index.js';
import type { User } from '../../src/protocol/wire.js';
import { describeError, h, setText } from './dom.js';

export function authView(client: ParleyClient, onSignedIn: (user: User) => void): HTMLElement {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, maxlength: '32', 'data-testid': 'username' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, minlength: '8', 'data-testid': 'password' });
  const displayName = h('input', { name: 'displayName', autocomplete: 'nickname', maxlength: '64', placeholder: 'optional, for registering', 'data-testid': 'display-name' });
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'auth-error' });
  const login = h('button', { type: 'submit', 'data-testid': 'login' }, 'Log in');
  const register = h('button', { type: 'button', class: 'secondary', 'data-testid': 'register' }, 'Create account');

  const submit = async (mode: 'login' | 'register') => {
    setText(error, '');
    login.disabled = register.disabled = true;
    try {
      const input = { username: username.value.trim(), password: password.value };
      const session =
        mode === 'login'
          ? await client.rest.login(input)
          : await client.rest.register(displayName.value.trim() === '' ? input : { ...input, displayName: displayName.value.trim() });
      onSignedIn(session.user);
    } catch (e) {
      setText(error, describeError(e));
    } finally {
      login.disabled = register.disabled = false;
    }
  };

  const form = h(
    'form',
    {
      class: 'auth',
      onsubmit: (event: Event) => {
        event.preventDefault();
        void submit('login');
      },
    },
    h('h1', {}, 'Parley'),
    h('label', {}, 'Username', username),
    h('label', {}, 'Password', password),
    h('label', {}, 'Display name', displayName),
    error,
    h('div', { class: 'actions' }, login, register),
  );
  register.addEventListener('click', () => {
    if (form.reportValidity()) void submit('register');
  });
  return form;
}
