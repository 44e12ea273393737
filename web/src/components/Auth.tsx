/**
 * Signing in and signing up, as two forms with an address each (`#/` and `#/signup`). Either
 * sets the HttpOnly session cookie; then the app takes over. An error says which field it is
 * about when the server does, and goes as soon as that input changes.
 */
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { ParleyError, type User } from '../../../client/index.js';
import type { Api } from '../api.js';
import { describeError } from '../format.js';
import { navigate, route } from '../state/route.js';

export interface AuthProps {
  api: Api;
  onSignedIn: (user: User) => void;
}

type Field = 'username' | 'password' | 'displayName';

/** The field a refusal is about, when the server names one (a taken username, a look-alike display name). */
function fieldOf(error: unknown): Field | null {
  if (!(error instanceof ParleyError)) return null;
  const field = error.details?.field;
  if (field === 'username' || field === 'displayName') return field;
  return error.code === 'unauthorized' ? 'password' : null;
}

export function Auth({ api, onSignedIn }: AuthProps) {
  const signingUp = route.value.name === 'signup';
  const error = useSignal('');
  const errorField = useSignal<Field | null>(null);
  const busy = useSignal(false);
  const first = useRef<HTMLInputElement>(null);

  useEffect(() => {
    error.value = '';
    errorField.value = null;
    first.current?.focus();
  }, [signingUp]);

  const clearError = () => {
    error.value = '';
    errorField.value = null;
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const username = String(data.get('username') ?? '').trim();
    const password = String(data.get('password') ?? '');
    const displayName = String(data.get('displayName') ?? '').trim();
    clearError();
    busy.value = true;
    try {
      const session = signingUp
        ? await api.register(displayName === '' ? { username, password } : { username, password, displayName })
        : await api.login({ username, password });
      if (signingUp) navigate({ name: 'home' }, { replace: true });
      onSignedIn(session.user);
    } catch (e) {
      error.value = describeError(e);
      errorField.value = fieldOf(e);
      busy.value = false;
    }
  };

  const invalid = (field: Field) => (errorField.value === field ? 'true' : undefined);
  const described = (field: Field) => (errorField.value === field || (errorField.value === null && error.value !== '') ? 'auth-error' : undefined);

  return (
    <form class="auth" aria-labelledby="auth-title" onSubmit={(event) => void submit(event)} onInput={clearError} data-testid={signingUp ? 'signup-form' : 'login-form'}>
      <h1 id="auth-title">Parley</h1>
      <h2 class="auth-subtitle">{signingUp ? 'Create an account' : 'Sign in'}</h2>
      <label>
        <span>Username</span>
        <input
          ref={first}
          name="username"
          autocomplete="username"
          autocapitalize="none"
          spellcheck={false}
          required
          minLength={3}
          maxLength={32}
          title="3 to 32 letters, digits, _ . or -"
          aria-invalid={invalid('username')}
          aria-describedby={described('username')}
          data-testid="username"
        />
      </label>
      <label>
        <span>Password</span>
        <input
          name="password"
          type="password"
          autocomplete={signingUp ? 'new-password' : 'current-password'}
          required
          minLength={8}
          maxLength={256}
          aria-invalid={invalid('password')}
          aria-describedby={described('password')}
          data-testid="password"
        />
      </label>
      {signingUp && (
        <label>
          <span>Display name (optional)</span>
          <input
            name="displayName"
            autocomplete="nickname"
            maxLength={64}
            placeholder="How others see you"
            aria-invalid={invalid('displayName')}
            aria-describedby={described('displayName')}
            data-testid="display-name"
          />
        </label>
      )}
      <p id="auth-error" class="error" role="alert" data-testid="auth-error">
        {error.value}
      </p>
      <div class="actions">
        <button type="submit" disabled={busy.value} data-testid={signingUp ? 'register' : 'login'}>
          {signingUp ? 'Create account' : 'Sign in'}
        </button>
      </div>
      <p class="hint switch">
        {signingUp ? 'Have an account? ' : 'New here? '}
        <a href={signingUp ? '#/' : '#/signup'} data-testid={signingUp ? 'show-login' : 'show-register'}>
          {signingUp ? 'Sign in' : 'Create an account'}
        </a>
      </p>
    </form>
  );
}
