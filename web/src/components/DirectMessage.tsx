/**
 * Starts a direct conversation with someone: typing searches people (GET /users?q=) and lists
 * the matches as buttons, each with their username; Enter messages the username as typed.
 */
import { useSignal } from '@preact/signals';
import { describeError } from '../format.js';
import type { AppState } from '../state/app.js';
import { UserMatches, useUserSearch } from './UserSearch.js';

export function DirectMessage({ app }: { app: AppState }) {
  const username = useSignal('');
  const error = useSignal('');
  const busy = useSignal(false);
  const query = username.value.trim().replace(/^@/, '');
  const matches = useUserSearch(app, query, error);

  const submit = (event: Event) => {
    event.preventDefault();
    open(query);
  };

  const open = (name: string) => {
    if (name === '') return;
    error.value = '';
    busy.value = true;
    app.api
      .openDm(name)
      .then((room) => {
        username.value = '';
        matches.value = [];
        app.entered(room);
      })
      .catch((e: unknown) => {
        error.value = describeError(e);
      })
      .finally(() => {
        busy.value = false;
      });
  };

  return (
    <form class="direct-message" aria-label="Message someone" onSubmit={submit}>
      <h2>People</h2>
      <div class="row">
        <input
          name="username"
          placeholder="Username"
          autocomplete="off"
          autocapitalize="none"
          spellcheck={false}
          required
          aria-label="Username to message"
          value={username.value}
          onInput={(e) => {
            username.value = e.currentTarget.value;
            error.value = '';
          }}
          data-testid="dm-username"
        />
        <button type="submit" disabled={busy.value} data-testid="dm-submit">
          Message
        </button>
      </div>
      <UserMatches users={matches.value} verb="Message" onPick={(u) => open(u.username)} />
      <p class="error" role="alert" data-testid="dm-error">
        {error.value}
      </p>
    </form>
  );
}
