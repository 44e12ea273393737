/**
 * Every room, private and direct-message ones too, newest first: searched by name, a page at a
 * time, with its visibility, members and whether it is archived. Any room but a DM can be
 * archived (readable, refusing sends and joins) or opened again, as its owner would.
 */
import { useSignal } from '@preact/signals';
import type { AdminRoom } from '../../../../client/index.js';
import { formatDateTime, roomLabel } from '../../format.js';
import { type AdminContext, OutcomeLines, PageEnd, usePaged, useOutcome } from './shared.js';

const PAGE = 50;
const SEARCH_DELAY_MS = 250;

export function Rooms({ context }: { context: AdminContext }) {
  const { api } = context;
  const q = useSignal('');
  const outcome = useOutcome();
  const text = q.value.trim();
  const rooms = usePaged('Rooms', async (after) => {
    const page = await api.rooms({ q: text, after, limit: PAGE });
    return { items: page.rooms, next: page.next };
  }, [text], SEARCH_DELAY_MS);
  const list = rooms.items.value;

  const setArchived = (room: AdminRoom, archived: boolean) =>
    outcome.run(async () => {
      const changed = await api.setArchived(room.id, archived);
      rooms.replace((r) => r.id === room.id, { ...changed, members: room.members });
      context.changed();
      return `${roomLabel(room)} is ${archived ? 'archived' : 'open again'}.`;
    });

  return (
    <section class="admin-section" aria-labelledby="admin-rooms-title" data-testid="admin-rooms">
      <div class="admin-section-head">
        <h3 id="admin-rooms-title">Rooms</h3>
      </div>
      <div class="admin-filters">
        <input type="search" placeholder="Name contains" aria-label="Search rooms by name" autocomplete="off" value={q.value} onInput={(e) => (q.value = e.currentTarget.value)} data-testid="admin-room-search" />
      </div>
      <OutcomeLines outcome={outcome} testId="admin-rooms" />
      {list?.length === 0 && <p class="hint">No room matches.</p>}
      {list !== null && list.length > 0 && (
        <div class="table-wrap">
          <table class="admin-table">
            <thead>
              <tr>
                <th scope="col">Room</th>
                <th scope="col">Visibility</th>
                <th scope="col" class="num">
                  Members
                </th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.map((room) => (
                <tr key={room.id} data-testid="admin-room" data-room-id={room.id} data-archived={room.archived === true ? 'true' : 'false'}>
                  <td>
                    <span class="cell-main" data-testid="admin-room-name">
                      {roomLabel(room)}
                    </span>
                    {room.topic !== '' && <span class="hint">{room.topic}</span>}
                  </td>
                  <td>{room.visibility === 'dm' ? 'direct message' : room.visibility}</td>
                  <td class="num">{room.members}</td>
                  <td>
                    <span class={room.archived === true ? 'role warn' : 'role'} data-testid="admin-room-state">
                      {room.archived === true ? 'archived' : 'open'}
                    </span>
                  </td>
                  <td>
                    <time dateTime={room.createdAt}>{formatDateTime(room.createdAt)}</time>
                  </td>
                  <td>
                    <div class="admin-actions">
                      {room.visibility !== 'dm' && (
                        <button type="button" class="secondary small" onClick={() => void setArchived(room, room.archived !== true)} aria-label={`${room.archived === true ? 'Unarchive' : 'Archive'} ${roomLabel(room)}`} data-testid={room.archived === true ? 'admin-room-unarchive' : 'admin-room-archive'}>
                          {room.archived === true ? 'Unarchive' : 'Archive'}
                        </button>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <PageEnd paged={rooms} label="More rooms" testId="admin-rooms-more" />
    </section>
  );
}
