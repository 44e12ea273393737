/**
 * People found as someone types a name (GET /users?q=), for starting a DM and inviting to a
 * room: each match a button showing their display name, @username and status.
 */
import { type Signal, useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import type { User } from '../../../client/index.js';
import { describeError } from '../format.js';
import type { AppState } from '../state/app.js';

const MATCHES = 8;
/** Typing pauses this long before the search goes out. */
const SEARCH_DELAY_MS = 200;

/** The people matching `query` (me left out), fetched once typing pauses; failures go to `error`. */
export function useUserSearch(app: AppState, query: string, error: Signal<string>): Signal<readonly User[]> {
  const matches = useSignal<readonly User[]>([]);
  useEffect(() => {
    if (query === '') {
      matches.value = [];
      return;
    }
    let current = true;
    const timer = setTimeout(() => {
      app.api.searchUsers(query, MATCHES).then(
        (users) => {
          if (current) matches.value = users.filter((u) => u.id !== app.me.id);
        },
        (e: unknown) => {
          if (current) error.value = `People could not be searched: ${describeError(e)}`;
        },
      );
    }, SEARCH_DELAY_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [query]);
  return matches;
}

export function UserMatches({ users, verb, onPick }: { users: readonly User[]; verb: string; onPick: (user: User) => void }) {
  if (users.length === 0) return null;
  return (
    <ul class="user-matches" aria-label="People found">
      {users.map((u) => (
        <li key={u.id}>
          <button type="button" class="secondary small user-match" onClick={() => onPick(u)} aria-label={`${verb} ${u.displayName} @${u.username}`} data-testid="user-match" data-username={u.username}>
            <span class="member-name">{u.displayName}</span> <span class="username">@{u.username}</span>
            {u.statusText !== undefined && <span class="hint"> · {u.statusText}</span>}
          </button>
        </li>
      ))}
    </ul>
  );
}
