/**
 * A room's settings menu: my notification level and mute for it (everyone), and for its admins
 * and owner its name, topic, archiving, and the bans and mutes in force, each of which they can
 * lift. Changes show through the room's own events.
 */
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import type { MemberRoom, Restriction, RoomNotificationPrefs } from '../../../client/index.js';
import type { Api } from '../api.js';
import { describeError, formatDateTime } from '../format.js';

/** Muting from this menu lasts until unmuted; a far date stands for "until I say". */
const MUTE_FOREVER = '9999-12-31T00:00:00.000Z';

export function RoomSettings({ api, room, canModerate }: { api: Api; room: MemberRoom; canModerate: boolean }) {
  const prefs = useSignal<RoomNotificationPrefs | null>(null);
  const name = useSignal(room.name);
  const topic = useSignal(room.topic);
  const error = useSignal('');
  const status = useSignal('');
  const restrictions = useSignal<Restriction[] | null>(null);
  const restrictionsError = useSignal('');
  const restrictionsBox = useRef<HTMLFieldSetElement>(null);
  const restrictionsRequest = useRef(0);

  /** Reads the bans and mutes in force; only the latest answer counts. */
  const loadRestrictions = async (): Promise<void> => {
    const request = ++restrictionsRequest.current;
    try {
      const list = await api.restrictions(room.id);
      if (request !== restrictionsRequest.current) return;
      restrictions.value = list;
      restrictionsError.value = '';
    } catch (e) {
      if (request === restrictionsRequest.current) restrictionsError.value = `Bans and mutes could not be loaded: ${describeError(e)}`;
    }
  };

  const lift = (r: Restriction, index: number) => {
    const who = `${r.user.displayName} (@${r.user.username})`;
    run(r.kind === 'ban' ? `${who} is no longer banned.` : `${who} is no longer muted.`, async () => {
      await (r.kind === 'ban' ? api.unban(room.id, r.user.id) : api.unmute(room.id, r.user.id));
      await loadRestrictions();
      // The lifted row is gone with its focused button: the focus goes to the next one, or to the list.
      setTimeout(() => {
        const box = restrictionsBox.current;
        const buttons = box?.querySelectorAll<HTMLElement>('[data-testid="restriction-lift"]') ?? [];
        (buttons[Math.min(index, buttons.length - 1)] ?? box)?.focus();
      }, 0);
    });
  };

  useEffect(() => {
    api.roomNotifications(room.id).then(
      (loaded) => {
        prefs.value = loaded;
      },
      (e: unknown) => {
        error.value = `Notification settings could not be loaded: ${describeError(e)}`;
      },
    );
  }, [room.id]);

  const run = (what: string, action: () => Promise<unknown>) => {
    error.value = status.value = '';
    action().then(
      () => {
        status.value = what;
      },
      (e: unknown) => {
        error.value = describeError(e);
      },
    );
  };

  // Shown at once (the controls follow what was chosen), put back if the server refuses it.
  const setPrefs = (next: RoomNotificationPrefs) => {
    const before = prefs.peek();
    prefs.value = next;
    run('Notification settings saved.', async () => {
      try {
        prefs.value = await api.setRoomNotifications(room.id, next);
      } catch (e) {
        prefs.value = before;
        throw e;
      }
    });
  };

  const current = prefs.value;
  return (
    <details
      class="room-settings"
      data-testid="room-settings"
      onToggle={(e) => {
        // Read when opened: bans and mutes change with moderation, which may be someone else's.
        if (canModerate && e.currentTarget.open) void loadRestrictions();
      }}
    >
      <summary class="secondary small" aria-label="Room settings">
        ⚙
      </summary>
      <div class="room-settings-panel">
        {current !== null && (
          <fieldset>
            <legend>Notifications</legend>
            <label>
              <span>Notify me of</span>
              <select value={current.level} onChange={(e) => setPrefs({ level: e.currentTarget.value as RoomNotificationPrefs['level'], mutedUntil: current.mutedUntil })} data-testid="notify-level">
                <option value="all">Every message</option>
                <option value="mentions">Mentions of me</option>
                <option value="none">Nothing</option>
              </select>
            </label>
            <label class="check">
              <input type="checkbox" checked={current.mutedUntil !== null} onChange={(e) => setPrefs({ level: current.level, mutedUntil: e.currentTarget.checked ? MUTE_FOREVER : null })} data-testid="notify-mute" />
              <span>Mute this room</span>
            </label>
          </fieldset>
        )}
        {canModerate && (
          <fieldset>
            <legend>Room</legend>
            <form
              onSubmit={(e) => {
                e.preventDefault();
                run('Room saved.', () => api.updateRoom(room.id, { name: name.value.trim(), topic: topic.value.trim() }));
              }}
            >
              <label>
                <span>Name</span>
                <input required maxLength={80} value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} data-testid="room-name" />
              </label>
              <label>
                <span>Topic</span>
                <input maxLength={300} value={topic.value} onInput={(e) => (topic.value = e.currentTarget.value)} data-testid="room-topic" />
              </label>
              <button type="submit" class="small" data-testid="room-save">
                Save
              </button>
            </form>
            <button type="button" class="secondary small" onClick={() => run(room.archived === true ? 'Room unarchived.' : 'Room archived.', () => api.setArchived(room.id, room.archived !== true))} data-testid="room-archive">
              {room.archived === true ? 'Unarchive' : 'Archive'}
            </button>
          </fieldset>
        )}
        {canModerate && (
          <fieldset ref={restrictionsBox} tabIndex={-1} data-testid="restrictions">
            <legend>Bans and mutes</legend>
            {restrictionsError.value !== '' ? (
              <p class="error" role="alert">
                {restrictionsError.value}
              </p>
            ) : restrictions.value === null ? (
              <p class="hint">Loading…</p>
            ) : restrictions.value.length === 0 ? (
              <p class="hint">Nobody is banned or muted.</p>
            ) : (
              <ul class="restrictions">
                {restrictions.value.map((r, index) => (
                  <li key={`${r.kind}-${r.user.id}`} class="restriction" data-testid="restriction" data-kind={r.kind} data-username={r.user.username}>
                    <span>
                      {r.user.displayName} <span class="username">@{r.user.username}</span> · {r.kind === 'ban' ? 'banned' : 'muted'}{' '}
                      {r.until === null ? 'for ever' : `until ${formatDateTime(r.until)}`}
                      {r.reason !== null && <span class="hint"> · {r.reason}</span>}
                    </span>
                    <button type="button" class="secondary small" onClick={() => lift(r, index)} aria-label={`${r.kind === 'ban' ? 'Unban' : 'Unmute'} @${r.user.username}`} data-testid="restriction-lift">
                      {r.kind === 'ban' ? 'Unban' : 'Unmute'}
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </fieldset>
        )}
        <p class="hint" role="status">
          {status.value}
        </p>
        <p class="error" role="alert">
          {error.value}
        </p>
      </div>
    </details>
  );
}
