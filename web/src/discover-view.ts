/** Public rooms to discover: a search box, the matching rooms, and a Join button on each. */
import type { ParleyClient, Room } from '../../client/index.js';
import { describeError, h, replaceChildren, setText } from './dom.js';
import { roomLabel } from './rooms-view.js';
import type { RoomsState } from './state.js';

const SEARCH_DEBOUNCE_MS = 250;
const LIMIT = 20;

export interface DiscoverViewOptions {
  client: ParleyClient;
  state: RoomsState;
  /** Opens a room in the main pane. */
  open: (roomId: string) => void;
}

export class DiscoverView {
  readonly element: HTMLElement;
  readonly #client: ParleyClient;
  readonly #state: RoomsState;
  readonly #open: (roomId: string) => void;
  readonly #search = h('input', {
    type: 'search',
    name: 'q',
    placeholder: 'Search public rooms',
    autocomplete: 'off',
    'aria-label': 'Search public rooms',
    'data-testid': 'discover-search',
  });
  readonly #list = h('ul', { class: 'public-rooms', 'data-testid': 'public-rooms' });
  readonly #error = h('p', { class: 'error', role: 'alert' });
  #rooms: Room[] = [];
  readonly #joinButtons = new Map<string, HTMLButtonElement>();
  /** Answers to earlier searches that arrive late are dropped. */
  #generation = 0;

  constructor({ client, state, open }: DiscoverViewOptions) {
    this.#client = client;
    this.#state = state;
    this.#open = open;
    let timer: ReturnType<typeof setTimeout> | undefined;
    this.#search.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => void this.refresh(), SEARCH_DEBOUNCE_MS);
    });
    this.element = h(
      'section',
      { class: 'discover', 'aria-label': 'Discover public rooms' },
      h('h2', {}, 'Discover'),
      this.#search,
      this.#list,
      this.#error,
    );
    // Join buttons follow my memberships, updated in place.
    state.onChange(() => this.#updateButtons());
  }

  /** Fetches the public rooms matching the search box. */
  async refresh(): Promise<void> {
    const generation = ++this.#generation;
    const q = this.#search.value.trim();
    try {
      const rooms = await this.#client.rest.publicRooms(q === '' ? undefined : q, LIMIT);
      if (generation !== this.#generation) return;
      this.#rooms = rooms;
      setText(this.#error, '');
      this.#render();
    } catch (error) {
      if (generation === this.#generation) setText(this.#error, describeError(error));
    }
  }

  #render(): void {
    this.#joinButtons.clear();
    if (this.#rooms.length === 0) {
      replaceChildren(this.#list, h('li', { class: 'hint' }, this.#search.value.trim() === '' ? 'No public rooms yet.' : 'No public room matches.'));
      return;
    }
    replaceChildren(this.#list, ...this.#rooms.map((room) => this.#item(room)));
  }

  #item(room: Room): HTMLElement {
    const join = h('button', { type: 'button', class: 'secondary', 'data-testid': 'join' });
    this.#joinButtons.set(room.id, join);
    this.#updateButton(room.id, join);
    join.addEventListener('click', () => {
      if (this.#state.has(room.id)) {
        this.#open(room.id);
        return;
      }
      join.disabled = true;
      setText(this.#error, '');
      this.#client.rest
        .joinRoom(room.id)
        .then((joinedRoom) => {
          join.disabled = false;
          this.#state.add(joinedRoom);
          this.#open(joinedRoom.id);
        })
        .catch((error: unknown) => {
          join.disabled = false;
          setText(this.#error, describeError(error));
        });
    });
    return h(
      'li',
      { class: 'public-room', 'data-testid': 'public-room', 'data-room-id': room.id },
      h('span', { class: 'room-name', title: room.topic === '' ? undefined : room.topic }, roomLabel(room)),
      join,
    );
  }

  #updateButtons(): void {
    for (const [roomId, button] of this.#joinButtons) this.#updateButton(roomId, button);
  }

  /** A room I am in opens; one I am not in is joined. */
  #updateButton(roomId: string, button: HTMLButtonElement): void {
    const label = this.#state.has(roomId) ? 'Open' : 'Join';
    if (button.textContent !== label) setText(button, label);
  }
}
