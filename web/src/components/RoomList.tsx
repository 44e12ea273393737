/** The sidebar's list of my rooms (DMs included), with unread badges; each is a link to its room. */
import { roomLabel } from '../format.js';
import type { AppState } from '../state/app.js';
import { unreadLabel } from '../state/rooms.js';
import { routeHash } from '../state/route.js';

export function RoomList({ app }: { app: AppState }) {
  const rooms = app.rooms.sorted.value;
  const openId = app.rooms.openId.value;
  return (
    <nav class="rooms" aria-label="My rooms">
      <h2>Rooms</h2>
      <ul class="room-list" data-testid="room-list">
        {rooms.map((room) => {
          const active = room.id === openId;
          const unread = room.unread > 0 || room.unreadCapped === true;
          return (
            <li key={room.id} class={active ? 'room-item active' : 'room-item'} data-testid="room-item" data-room-id={room.id}>
              <a class="room-link" href={routeHash({ name: 'room', roomId: room.id, seq: null })} aria-current={active ? 'page' : undefined}>
                <span class="room-name">{roomLabel(room, app.me)}</span>
                {unread && (
                  <>
                    <span class="badge" data-testid="unread">
                      {unreadLabel(room)}
                    </span>
                    <span class="visually-hidden"> unread</span>
                  </>
                )}
              </a>
            </li>
          );
        })}
      </ul>
      {app.rooms.loaded.value && rooms.length === 0 && <p class="hint">No rooms yet: create one, or join one below.</p>}
    </nav>
  );
}
