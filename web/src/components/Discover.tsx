/**
 * Public rooms to discover: a search box and the matching rooms, kept fresh (fetched again every
 * few seconds and whenever my memberships change), each with Join, or Open for a room I am in.
 */
import { useSignal } from '@preact/signals';
import { useRef } from 'preact/hooks';
import type { Room } from '../../../client/index.js';
import { describeError, roomLabel } from '../format.js';
import type { AppState } from '../state/app.js';
import { navigate } from '../state/route.js';

const SEARCH_DEBOUNCE_MS = 250;

function PublicRoom({ app, room }: { app: AppState; room: Room }) {
  const busy = useSignal(false);
  const member = app.rooms.has(room.id);
  const join = () => {
    if (member) {
      navigate({ name: 'room', roomId: room.id, seq: null });
      return;
    }
    busy.value = true;
    app.discoverError.value = '';
    app.api
      .joinRoom(room.id)
      .then((joined) => app.entered(joined))
      .catch((error: unknown) => {
        app.discoverError.value = describeError(error);
      })
      .finally(() => {
        busy.value = false;
      });
  };
  return (
    <li class="public-room" data-testid="public-room" data-room-id={room.id}>
      <span class="room-name" title={room.topic === '' ? undefined : room.topic}>
        {roomLabel(room)}
      </span>
      <button type="button" class="secondary" disabled={busy.value} onClick={join} data-testid="join">
        {member ? 'Open' : 'Join'}
      </button>
    </li>
  );
}

export function Discover({ app }: { app: AppState }) {
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const rooms = app.publicRooms.value;
  const q = app.discoverQuery.value.trim();
  return (
    <section class="discover" aria-label="Discover public rooms">
      <h2>Discover</h2>
      <input
        type="search"
        name="q"
        placeholder="Search public rooms"
        autocomplete="off"
        aria-label="Search public rooms"
        value={app.discoverQuery.value}
        onInput={(e) => {
          app.discoverQuery.value = e.currentTarget.value;
          clearTimeout(timer.current);
          timer.current = setTimeout(() => void app.refreshDiscover(), SEARCH_DEBOUNCE_MS);
        }}
        data-testid="discover-search"
      />
      <ul class="public-rooms" data-testid="public-rooms">
        {rooms?.length === 0 && <li class="hint">{q === '' ? 'No public rooms yet.' : 'No public room matches.'}</li>}
        {rooms?.map((room) => (
          <PublicRoom key={room.id} app={app} room={room} />
        ))}
      </ul>
      <p class="error" role="alert">
        {app.discoverError.value}
      </p>
    </section>
  );
}
