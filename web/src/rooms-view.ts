/** The sidebar's list of my rooms, with unread badges, and the form that creates a room. */
import type { MemberRoom, ParleyClient, Room } from '../../client/index.js';
import { describeError, h, setText } from './dom.js';
import { type RoomsState, unreadLabel } from './state.js';

export interface RoomsViewOptions {
  client: ParleyClient;
  state: RoomsState;
  /** Opens a room in the main pane. */
  open: (roomId: string) => void;
}

export function roomLabel(room: Pick<Room, 'name' | 'visibility'>): string {
  return room.visibility === 'private' ? `🔒 ${room.name}` : `# ${room.name}`;
}

interface Item {
  li: HTMLLIElement;
  button: HTMLButtonElement;
  name: HTMLSpanElement;
  badge: HTMLSpanElement;
}

export class RoomsView {
  readonly element: HTMLElement;
  readonly #state: RoomsState;
  readonly #open: (roomId: string) => void;
  readonly #list = h('ul', { class: 'room-list', 'data-testid': 'room-list' });
  readonly #hint = h('p', { class: 'hint' });
  /** Rows are updated in place, so a click is never lost to a row being rebuilt under it. */
  readonly #items = new Map<string, Item>();

  constructor({ client, state, open }: RoomsViewOptions) {
    this.#state = state;
    this.#open = open;

    const name = h('input', {
      name: 'name',
      placeholder: 'New room name',
      maxlength: '100',
      required: true,
      autocomplete: 'off',
      'aria-label': 'New room name',
      'data-testid': 'create-room-name',
    });
    const visibility = h(
      'select',
      { name: 'visibility', 'aria-label': 'Visibility', 'data-testid': 'create-room-visibility' },
      h('option', { value: 'public' }, 'Public'),
      h('option', { value: 'private' }, 'Private'),
    );
    const submit = h('button', { type: 'submit', 'data-testid': 'create-room-submit' }, 'Create');
    const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'create-room-error' });
    const form = h('form', { class: 'create-room', 'aria-label': 'Create a room' }, h('div', { class: 'row' }, name, visibility), submit, error);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const roomName = name.value.trim();
      if (roomName === '') return;
      setText(error, '');
      submit.disabled = true;
      client.rest
        .createRoom({ name: roomName, visibility: visibility.value === 'private' ? 'private' : 'public' })
        .then((room) => {
          name.value = '';
          state.add(room);
          this.#open(room.id);
        })
        .catch((e: unknown) => setText(error, describeError(e)))
        .finally(() => {
          submit.disabled = false;
        });
    });

    this.element = h('nav', { class: 'rooms', 'aria-label': 'My rooms' }, h('h2', {}, 'Rooms'), this.#list, this.#hint, form);
    state.onChange(() => this.#render());
    this.#render();
  }

  #render(): void {
    const rooms = this.#state.sorted();
    setText(this.#hint, rooms.length === 0 ? 'No rooms yet: create one, or join one below.' : '');
    const shown = new Set<string>();
    let previous: Element | null = null;
    for (const room of rooms) {
      shown.add(room.id);
      const item = this.#items.get(room.id) ?? this.#newItem(room.id);
      this.#update(item, room);
      const expected: Element | null = previous === null ? this.#list.firstElementChild : previous.nextElementSibling;
      if (expected !== item.li) {
        if (previous === null) this.#list.prepend(item.li);
        else previous.after(item.li);
      }
      previous = item.li;
    }
    for (const [roomId, item] of this.#items) {
      if (shown.has(roomId)) continue;
      item.li.remove();
      this.#items.delete(roomId);
    }
  }

  #newItem(roomId: string): Item {
    const name = h('span', { class: 'room-name' });
    const badge = h('span', { class: 'badge', 'data-testid': 'unread' });
    const button = h('button', { type: 'button', class: 'room-link', onclick: () => this.#open(roomId) }, name);
    const li = h('li', { class: 'room-item', 'data-testid': 'room-item', 'data-room-id': roomId }, button);
    const item = { li, button, name, badge };
    this.#items.set(roomId, item);
    return item;
  }

  #update(item: Item, room: MemberRoom): void {
    const active = this.#state.openId === room.id;
    setText(item.name, roomLabel(room));
    item.li.classList.toggle('active', active);
    if (active) item.button.setAttribute('aria-current', 'true');
    else item.button.removeAttribute('aria-current');
    if (room.unread > 0 || room.unreadCapped === true) {
      const label = unreadLabel(room);
      setText(item.badge, label);
      item.badge.setAttribute('aria-label', `${label} unread`);
      if (item.badge.parentNode !== item.button) item.button.append(item.badge);
    } else {
      item.badge.remove();
    }
  }
}
