/** Register or log in. Either sets the HttpOnly session cookie; then the app takes over. */
import type { ParleyClient, User } from '../../client/index.js';
import { describeError, h, setText } from './dom.js';

export function authView(client: ParleyClient, onSignedIn: (user: User) => void): HTMLElement {
  const username = h('input', {
    name: 'username',
    autocomplete: 'username',
    autocapitalize: 'none',
    spellcheck: 'false',
    required: true,
    minlength: '3',
    maxlength: '32',
    title: '3 to 32 letters, digits, _ . or -',
    'data-testid': 'username',
  });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    minlength: '8',
    maxlength: '256',
    'data-testid': 'password',
  });
  const displayName = h('input', {
    name: 'displayName',
    autocomplete: 'nickname',
    maxlength: '64',
    placeholder: 'How others see you',
    'data-testid': 'display-name',
  });
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'auth-error' });
  const login = h('button', { type: 'submit', 'data-testid': 'login' }, 'Log in');
  const register = h('button', { type: 'button', class: 'secondary', 'data-testid': 'register' }, 'Create account');

  const submit = async (mode: 'login' | 'register') => {
    setText(error, '');
    login.disabled = register.disabled = true;
    try {
      const credentials = { username: username.value.trim(), password: password.value };
      const name = displayName.value.trim();
      const session =
        mode === 'login' ? await client.rest.login(credentials) : await client.rest.register(name === '' ? credentials : { ...credentials, displayName: name });
      onSignedIn(session.user);
    } catch (e) {
      setText(error, describeError(e));
      login.disabled = register.disabled = false;
    }
  };

  const form = h(
    'form',
    { class: 'auth', 'aria-labelledby': 'auth-title' },
    h('h1', { id: 'auth-title' }, 'Parley'),
    h('p', { class: 'hint' }, 'Log in, or create an account.'),
    h('label', {}, h('span', {}, 'Username'), username),
    h('label', {}, h('span', {}, 'Password'), password),
    h('label', {}, h('span', {}, 'Display name (new accounts)'), displayName),
    error,
    h('div', { class: 'actions' }, login, register),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit('login');
  });
  register.addEventListener('click', () => {
    if (form.reportValidity()) void submit('register');
  });
  return form;
}
