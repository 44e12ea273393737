/**
 * The members of the open room: who is online, their roles, a button to message each one
 * directly, and for a private room a form to invite someone by username. Names always show
 * with their username, so nobody passes for someone else by display name.
 */
import { useSignal } from '@preact/signals';
import { describeError } from '../format.js';
import type { AppState } from '../state/app.js';
import type { RoomSession } from '../state/room.js';

export function Members({ app, session, onClose }: { app: AppState; session: RoomSession; onClose: () => void }) {
  const members = session.members.value;
  const invitee = useSignal('');
  const status = useSignal('');
  const error = useSignal('');
  const busy = useSignal(false);
  const sorted = members === null ? null : [...members].sort((a, b) => Number(b.online) - Number(a.online) || a.user.displayName.localeCompare(b.user.displayName));
  const online = members?.filter((m) => m.online).length ?? 0;

  const message = (username: string) => {
    error.value = '';
    app.api.openDm(username).then(
      (room) => app.entered(room),
      (e: unknown) => {
        error.value = describeError(e);
      },
    );
  };

  const invite = (event: Event) => {
    event.preventDefault();
    const username = invitee.value.trim().replace(/^@/, '');
    if (username === '') return;
    busy.value = true;
    error.value = status.value = '';
    app.api
      .addMember(session.roomId, username)
      .then(() => {
        invitee.value = '';
        status.value = `@${username} was added to the room.`;
        void session.loadMembers();
      })
      .catch((e: unknown) => {
        error.value = describeError(e);
      })
      .finally(() => {
        busy.value = false;
      });
  };

  return (
    <aside class="members" aria-labelledby="members-title" data-testid="members-panel">
      <header class="members-header">
        <h3 id="members-title">
          Members {members !== null && <span class="hint">{`${members.length} · ${online} online`}</span>}
        </h3>
        <button type="button" class="secondary small" onClick={onClose} aria-label="Close the member list" data-testid="members-close">
          ✕
        </button>
      </header>
      <p class="error" role="alert">
        {session.membersError.value}
      </p>
      {sorted === null ? (
        <p class="hint">Loading…</p>
      ) : (
        <ul class="member-list">
          {sorted.map((m) => (
            <li key={m.user.id} class="member" data-testid="member" data-username={m.user.username} data-online={m.online ? 'true' : 'false'}>
              <span class={m.online ? 'presence online' : 'presence'} aria-hidden="true" />
              <span class="member-names">
                <span class="member-name">
                  {m.user.displayName}
                  {m.user.id === app.me.id && ' (you)'}
                </span>
                <span class="username">
                  @{m.user.username} · <span data-testid="member-status">{m.online ? 'online' : 'offline'}</span>
                </span>
              </span>
              {m.role !== 'member' && (
                <span class="role" data-testid="member-role">
                  {m.role}
                </span>
              )}
              {m.user.bot === true && <span class="role">bot</span>}
              {m.user.id !== app.me.id && m.user.bot !== true && session.room.visibility !== 'dm' && (
                <button type="button" class="secondary small" onClick={() => message(m.user.username)} aria-label={`Message @${m.user.username}`} data-testid="member-dm">
                  Message
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {session.room.visibility === 'private' && (
        <form class="invite" aria-label="Invite someone" onSubmit={invite}>
          <label>
            <span>Invite by username</span>
            <span class="row">
              <input
                name="username"
                autocomplete="off"
                autocapitalize="none"
                spellcheck={false}
                required
                value={invitee.value}
                onInput={(e) => {
                  invitee.value = e.currentTarget.value;
                  error.value = status.value = '';
                }}
                data-testid="invite-username"
              />
              <button type="submit" disabled={busy.value} data-testid="invite-submit">
                Invite
              </button>
            </span>
          </label>
          <p class="hint" role="status" data-testid="invite-status">
            {status.value}
          </p>
        </form>
      )}
      <p class="error" role="alert" data-testid="members-error">
        {error.value}
      </p>
    </aside>
  );
}
