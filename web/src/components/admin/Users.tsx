/**
 * Every account, people and bots, disabled and deleted ones too: searched by the start of the
 * username, filtered by state, a page at a time. Each can be disabled or enabled, have its
 * password reset (the new one shown once) or its sessions ended, be made a server administrator
 * or stop being one, or be deleted; a new account can be created. Nobody acts on themselves here.
 */
import { useSignal } from '@preact/signals';
import type { AdminUser, AdminUserState as UserState } from '../../../../client/index.js';
import { formatDateTime } from '../../format.js';
import { type AdminContext, OneTimeSecret, OutcomeLines, type Outcome, PageEnd, usePaged, useOutcome } from './shared.js';

const PAGE = 50;
const SEARCH_DELAY_MS = 250;

const STATES: ReadonlyArray<readonly [UserState | '', string]> = [
  ['', 'Everyone'],
  ['active', 'Active'],
  ['disabled', 'Disabled'],
  ['deleted', 'Deleted'],
  ['bot', 'Bots'],
];

type Secret = { username: string; password: string } | null;

export function Users({ context }: { context: AdminContext }) {
  const { api } = context;
  const q = useSignal('');
  const state = useSignal<UserState | ''>('');
  const secret = useSignal<Secret>(null);
  const outcome = useOutcome();
  const prefix = q.value.trim().replace(/^@/, '').toLowerCase();
  const users = usePaged(
    'Users',
    async (after) => {
      const page = await api.users({ q: prefix, state: state.value === '' ? undefined : state.value, after, limit: PAGE });
      return { items: page.users, next: page.next };
    },
    [prefix, state.value],
    SEARCH_DELAY_MS,
  );
  const updated = (user: AdminUser) => {
    users.replace((u) => u.id === user.id, user);
    context.changed();
  };
  const list = users.items.value;

  return (
    <section class="admin-section" aria-labelledby="admin-users-title" data-testid="admin-users">
      <div class="admin-section-head">
        <h3 id="admin-users-title">Users</h3>
      </div>
      <div class="admin-filters">
        <input
          type="search"
          placeholder="Username starts with"
          aria-label="Search users by username"
          autocomplete="off"
          autocapitalize="none"
          spellcheck={false}
          value={q.value}
          onInput={(e) => (q.value = e.currentTarget.value)}
          data-testid="admin-user-search"
        />
        <select aria-label="Which users" value={state.value} onChange={(e) => (state.value = e.currentTarget.value as UserState | '')} data-testid="admin-user-state">
          {STATES.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <CreateUser context={context} outcome={outcome} onCreated={(s) => (secret.value = s)} reload={() => users.reload()} />
      <OneTimeSecret secret={secret.value} onDone={() => (secret.value = null)} />
      <OutcomeLines outcome={outcome} testId="admin-users" />
      {list?.length === 0 && <p class="hint">No user matches.</p>}
      {list !== null && list.length > 0 && (
        <div class="table-wrap">
          <table class="admin-table">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.map((user) => (
                <UserRow key={user.id} context={context} user={user} outcome={outcome} onUpdated={updated} onSecret={(s) => (secret.value = s)} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <PageEnd paged={users} label="More users" testId="admin-users-more" />
    </section>
  );
}

function userState(user: AdminUser): string {
  if (user.deletedAt !== null) return 'deleted';
  if (user.disabledAt !== null) return 'disabled';
  return 'active';
}

function UserRow({ context, user, outcome, onUpdated, onSecret }: { context: AdminContext; user: AdminUser; outcome: Outcome; onUpdated: (user: AdminUser) => void; onSecret: (secret: Secret) => void }) {
  const { api, ask } = context;
  const busy = useSignal(false);
  const who = `@${user.username}`;
  const self = user.id === context.me.id;
  const state = userState(user);

  /** An action without a question: its outcome shows above the list. */
  const act = (action: () => Promise<string>) => {
    busy.value = true;
    void outcome.run(action).finally(() => {
      busy.value = false;
    });
  };
  /** An action asked first: its error shows in the question, its success above the list. */
  const askFirst = (question: string, confirm: string, action: () => Promise<string>) =>
    ask(question, confirm, async () => {
      outcome.status.value = outcome.error.value = '';
      outcome.status.value = await action();
    });

  const setDisabled = (disabled: boolean) =>
    act(async () => {
      onUpdated(await api.setDisabled(user.id, disabled));
      return disabled ? `${who} is disabled: they cannot log in, and their sessions ended.` : `${who} is enabled again.`;
    });
  const resetPassword = () =>
    askFirst(`Reset the password of ${who}? Their sessions end, and they log in with the new password only.`, 'Reset password', async () => {
      const reset = await api.resetPassword(user.id);
      context.changed();
      if (reset.password !== null) onSecret({ username: user.username, password: reset.password });
      return `The password of ${who} was reset; ${sessions(reset.sessionsRevoked)} ended.`;
    });
  const revokeSessions = () =>
    act(async () => {
      const ended = await api.revokeSessions(user.id);
      context.changed();
      return `${sessions(ended)} of ${who} ended.`;
    });
  const setRole = (role: 'admin' | null) =>
    askFirst(
      role === 'admin' ? `Make ${who} a server administrator? They can do everything this page does.` : `Take the server role away from ${who}?`,
      role === 'admin' ? 'Make administrator' : 'Remove administrator',
      async () => {
        onUpdated(await api.setRole(user.id, role));
        return role === 'admin' ? `${who} is a server administrator.` : `${who} is no longer a server administrator.`;
      },
    );
  const remove = () =>
    askFirst(`Delete ${who}? They leave their rooms and their account is erased; their messages stay. This cannot be undone.`, 'Delete', async () => {
      await api.deleteUser(user.id);
      context.changed();
      // The row shows the account as it is now; if that read fails, the deletion is still done.
      const shown = await api.user(user.id).then(
        (deleted) => {
          onUpdated(deleted);
          return true;
        },
        () => false,
      );
      return shown ? `${who} was deleted.` : `${who} was deleted; reload the list to see it.`;
    });

  const people = user.bot !== true;
  return (
    <tr data-testid="admin-user" data-username={user.username} data-state={state}>
      <td>
        <span class="cell-main">{user.displayName}</span>
        <span class="username">
          {who}
          {self && ' (you)'}
        </span>
      </td>
      <td>
        <span class={state === 'active' ? 'role' : 'role warn'} data-testid="admin-user-state-label">
          {state}
        </span>
        {user.role === 'admin' && (
          <span class="role" data-testid="admin-user-role">
            admin
          </span>
        )}
        {user.bot === true && <span class="role">bot</span>}
      </td>
      <td>
        <time dateTime={user.createdAt}>{formatDateTime(user.createdAt)}</time>
      </td>
      <td>
        <div class="admin-actions">
          {state !== 'deleted' && !self && (
            <>
              <button type="button" class="secondary small" disabled={busy.value} onClick={() => setDisabled(state === 'active')} aria-label={`${state === 'active' ? 'Disable' : 'Enable'} ${who}`} data-testid={state === 'active' ? 'admin-user-disable' : 'admin-user-enable'}>
                {state === 'active' ? 'Disable' : 'Enable'}
              </button>
              {people && (
                <button type="button" class="secondary small" disabled={busy.value} onClick={resetPassword} aria-label={`Reset the password of ${who}`} data-testid="admin-user-password">
                  Reset password
                </button>
              )}
              <button type="button" class="secondary small" disabled={busy.value} onClick={revokeSessions} aria-label={`End the sessions of ${who}`} data-testid="admin-user-sessions">
                Revoke sessions
              </button>
              {people && (user.role === 'admin' || state === 'active') && (
                <button type="button" class="secondary small" disabled={busy.value} onClick={() => setRole(user.role === 'admin' ? null : 'admin')} data-testid={user.role === 'admin' ? 'admin-user-unadmin' : 'admin-user-admin'}>
                  {user.role === 'admin' ? 'Remove administrator' : 'Make administrator'}
                </button>
              )}
              <button type="button" class="secondary small danger" disabled={busy.value} onClick={remove} aria-label={`Delete ${who}`} data-testid="admin-user-delete">
                Delete
              </button>
            </>
          )}
        </div>
      </td>
    </tr>
  );
}

function sessions(n: number): string {
  return n === 1 ? '1 session' : `${n} sessions`;
}

/** A new account, its password made by the server and shown once. */
function CreateUser({ context, outcome, onCreated, reload }: { context: AdminContext; outcome: Outcome; onCreated: (secret: Secret) => void; reload: () => void }) {
  const username = useSignal('');
  const displayName = useSignal('');
  const admin = useSignal(false);
  const busy = useSignal(false);
  const submit = (event: Event) => {
    event.preventDefault();
    busy.value = true;
    const name = displayName.value.trim();
    void outcome
      .run(async () => {
        const created = await context.api.createUser({ username: username.value.trim(), ...(name === '' ? {} : { displayName: name }), admin: admin.value });
        if (created.password !== null) onCreated({ username: created.user.username, password: created.password });
        username.value = displayName.value = '';
        admin.value = false;
        context.changed();
        reload();
        return `@${created.user.username} was created.`;
      })
      .finally(() => {
        busy.value = false;
      });
  };
  return (
    <details class="admin-create">
      <summary>Create a user</summary>
      <form class="admin-filters" onSubmit={submit}>
        <input required placeholder="Username" aria-label="Username" autocomplete="off" autocapitalize="none" spellcheck={false} value={username.value} onInput={(e) => (username.value = e.currentTarget.value)} data-testid="admin-create-username" />
        <input placeholder="Display name (optional)" aria-label="Display name" autocomplete="off" value={displayName.value} onInput={(e) => (displayName.value = e.currentTarget.value)} data-testid="admin-create-display-name" />
        <label class="check">
          <input type="checkbox" checked={admin.value} onChange={(e) => (admin.value = e.currentTarget.checked)} data-testid="admin-create-admin" />
          <span>Server administrator</span>
        </label>
        <button type="submit" class="small" disabled={busy.value} data-testid="admin-create-submit">
          Create
        </button>
      </form>
    </details>
  );
}
