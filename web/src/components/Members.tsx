/**
 * The members of the open room: who is online, their roles, a button to message each one
 * directly, for a private room a form to invite someone by username, and for the room's admins
 * and owner a menu on each member of lower rank: mute, remove, ban, and (the owner) make or
 * unmake an admin, each after a confirmation. Names always show with their username, so nobody
 * passes for someone else by display name.
 */
import { useSignal } from '@preact/signals';
import { useRef } from 'preact/hooks';
import { describeError } from '../format.js';
import type { AppState } from '../state/app.js';
import type { Member, Role } from '../../../client/index.js';
import type { RoomSession } from '../state/room.js';
import { UserMatches, useUserSearch } from './UserSearch.js';

const RANK: Record<Role, number> = { owner: 2, admin: 1, member: 0 };

/** How long a mute or ban lasts, as the moderation menu offers it ('' for ever). */
const DURATIONS: ReadonlyArray<readonly [string, string]> = [
  ['3600', 'for 1 hour'],
  ['86400', 'for 1 day'],
  ['604800', 'for 1 week'],
  ['', 'for ever'],
];

type Ask = (question: string, confirm: string, action: () => Promise<void>) => void;

export function Members({ app, session, ask, onClose }: { app: AppState; session: RoomSession; ask: Ask; onClose: () => void }) {
  const members = session.members.value;
  const invitee = useSignal('');
  const status = useSignal('');
  const error = useSignal('');
  const busy = useSignal(false);
  // I am online whenever my connection is open, whatever the list said when it was read (a
  // reload's new connection can be counted after the list was).
  const connected = app.connection.value.state === 'open';
  const isOnline = (m: Member): boolean => (m.user.id === app.me.id ? connected : m.online);
  const sorted = members === null ? null : [...members].sort((a, b) => Number(isOnline(b)) - Number(isOnline(a)) || a.user.displayName.localeCompare(b.user.displayName));
  const online = members?.filter(isOnline).length ?? 0;

  const message = (username: string) => {
    error.value = '';
    app.api.openDm(username).then(
      (room) => app.entered(room),
      (e: unknown) => {
        error.value = describeError(e);
      },
    );
  };

  const wanted = invitee.value.trim().replace(/^@/, '');
  const found = useUserSearch(app, session.room.visibility === 'private' ? wanted : '', error);
  // Those already in the room need no invitation.
  const invitable = found.value.filter((u) => !members?.some((m) => m.user.id === u.id));

  const invite = (event: Event) => {
    event.preventDefault();
    add(wanted);
  };

  const add = (username: string) => {
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
            <li key={m.user.id} class="member" data-testid="member" data-username={m.user.username} data-online={isOnline(m) ? 'true' : 'false'}>
              <span class={isOnline(m) ? 'presence online' : 'presence'} aria-hidden="true" />
              <span class="member-names">
                <span class="member-name">
                  {m.user.displayName}
                  {m.user.id === app.me.id && ' (you)'}
                </span>
                <span class="username">
                  @{m.user.username} · <span data-testid="member-status">{isOnline(m) ? 'online' : 'offline'}</span>
                </span>
                {m.user.statusText !== undefined && (
                  <span class="hint" data-testid="member-status-text">
                    {m.user.statusText}
                  </span>
                )}
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
              {m.user.id !== app.me.id && (
                <BlockButton app={app} userId={m.user.id} username={m.user.username} onError={(text) => (error.value = text)} />
              )}
              {session.room.visibility !== 'dm' && <Moderate app={app} session={session} member={m} ask={ask} />}
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
          <UserMatches users={invitable} verb="Invite" onPick={(u) => add(u.username)} />
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

/** What I may do to a member ranked below me, each asked first. Nothing for my equals or betters. */
function Moderate({ app, session, member, ask }: { app: AppState; session: RoomSession; member: Member; ask: Ask }) {
  const duration = useSignal('');
  const menu = useRef<HTMLDetailsElement>(null);
  const mine = session.myRole;
  if (mine === null || member.user.id === app.me.id || RANK[mine as Role] <= RANK[member.role]) return null;
  const { id, username } = member.user;
  const who = `${member.user.displayName} (@${username})`;
  const roomId = session.roomId;
  const api = app.api;
  const seconds = duration.value === '' ? undefined : Number(duration.value);
  const lasting = DURATIONS.find(([value]) => value === duration.value)?.[1] ?? 'for ever';
  // The menu closes when an action is chosen; the summary keeps the focus, so the confirmation
  // gives it back there.
  const act: Ask = (question, confirm, action) => {
    const details = menu.current;
    if (details !== null) {
      details.open = false;
      details.querySelector('summary')?.focus();
    }
    ask(question, confirm, action);
  };
  return (
    <details class="moderate" ref={menu} data-testid="member-moderate">
      <summary aria-label={`Moderate @${username}`}>⋯</summary>
      <div class="moderate-menu">
        <label class="moderate-duration">
          <span>Mute or ban</span>
          <select value={duration.value} onChange={(e) => (duration.value = e.currentTarget.value)} data-testid="member-duration">
            {DURATIONS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="secondary small" onClick={() => act(`Mute ${who} ${lasting}? They can still read the room, but not send.`, 'Mute', () => api.mute(roomId, id, seconds))} data-testid="member-mute">
          Mute
        </button>
        <button type="button" class="secondary small" onClick={() => act(`Unmute ${who}?`, 'Unmute', () => api.unmute(roomId, id))} data-testid="member-unmute">
          Unmute
        </button>
        <button type="button" class="secondary small" onClick={() => act(`Remove ${who} from the room? They may join again.`, 'Remove', () => api.kick(roomId, id))} data-testid="member-kick">
          Remove
        </button>
        <button type="button" class="secondary small" onClick={() => act(`Ban ${who} ${lasting}? They are removed and cannot join again until the ban ends.`, 'Ban', () => api.ban(roomId, id, seconds))} data-testid="member-ban">
          Ban
        </button>
        {mine === 'owner' &&
          (member.role === 'admin' ? (
            <button type="button" class="secondary small" onClick={() => act(`Make ${who} a plain member again?`, 'Make member', () => api.setRole(roomId, id, 'member'))} data-testid="member-unadmin">
              Make member
            </button>
          ) : (
            <button type="button" class="secondary small" onClick={() => act(`Make ${who} an admin? Admins moderate the room's members.`, 'Make admin', () => api.setRole(roomId, id, 'admin'))} data-testid="member-admin">
              Make admin
            </button>
          ))}
      </div>
    </details>
  );
}

/** Block or unblock: a blocked user's messages notify me of nothing, and no DMs either way. */
function BlockButton({ app, userId, username, onError }: { app: AppState; userId: string; username: string; onError: (text: string) => void }) {
  const blocked = app.blocked.value.has(userId);
  const toggle = () => {
    onError('');
    app.setBlocked(userId, !blocked).catch((e: unknown) => onError(describeError(e)));
  };
  return (
    <button type="button" class="secondary small" aria-pressed={blocked} onClick={toggle} aria-label={`${blocked ? 'Unblock' : 'Block'} @${username}`} data-testid="member-block">
      {blocked ? 'Unblock' : 'Block'}
    </button>
  );
}
