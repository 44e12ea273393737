/**
 * The signed-in app: the rooms I am in (with unread counts, kept live), creating rooms,
 * discovering and joining public ones, and the open room.
 */
import type { ParleyClient } from '../../client/index.js';
import type { MemberRoom, Room, StreamEvent, User } from '../../src/protocol/wire.js';
import { clear, describeError, h, setText } from './dom.js';
import { RoomView } from './room-view.js';

export class AppView {
  readonly element: HTMLElement;
  readonly #client: ParleyClient;
  readonly #me: User;
  readonly #rooms = new Map<string, MemberRoom>();
  readonly #roomList = h('ul', { class: 'rooms', 'data-testid': 'room-list' });
  readonly #publicList = h('ul', { class: 'public-rooms', 'data-testid': 'public-rooms' });
  readonly #main = h('main', { class: 'main' }, h('p', { class: 'empty' }, 'Pick a room, or create one.'));
  readonly #state = h('span', { class: 'state', 'data-testid': 'connection-state' }, 'connecting');
  readonly #error = h('p', { class: 'error', role: 'alert' });
  #open: RoomView | null = null;

  constructor(client: ParleyClient, me: User, onSignedOut: () => void) {
    this.#client = client;
    this.#me = me;

    const name = h('input', { placeholder: 'New room name', maxlength: '100', required: true, 'aria-label': 'Room name', 'data-testid': 'create-room-name' });
    const visibility = h(
      'select',
      { 'aria-label': 'Visibility', 'data-testid': 'create-room-visibility' },
      h('option', { value: 'public' }, 'public'),
      h('option', { value: 'private' }, 'private'),
    );
    const create = h(
      'form',
      {
        class: 'create-room',
        onsubmit: (event: Event) => {
          event.preventDefault();
          void this.#guard(async () => {
            const room = await client.rest.createRoom({ name: name.value.trim(), visibility: visibility.value as 'public' | 'private' });
            name.value = '';
            this.#addRoom({ ...room, lastReadSeq: room.lastSeq, unread: 0 });
            await this.#openRoom(room.id);
          });
        },
      },
      name,
      visibility,
      h('button', { type: 'submit', 'data-testid': 'create-room-submit' }, 'Create'),
    );
    const search = h('input', { type: 'search', placeholder: 'Find public rooms', 'aria-label': 'Find public rooms', 'data-testid': 'discover-search' });
    let searchTimer: ReturnType<typeof setTimeout> | undefined;
    search.addEventListener('input', () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => void this.#guard(() => this.#discover(search.value)), 250);
    });
    const logout = h('button', { type: 'button', class: 'secondary', 'data-testid': 'logout' }, 'Log out');
    logout.addEventListener('click', () => {
      void this.#guard(async () => {
        await client.rest.logout();
        await client.close();
        onSignedOut();
      });
    });

    this.element = h(
      'div',
      { class: 'app' },
      h(
        'aside',
        { class: 'sidebar' },
        h('div', { class: 'me' }, h('strong', {}, me.displayName), this.#state, logout),
        h('h3', {}, 'Rooms'),
        this.#roomList,
        create,
        h('h3', {}, 'Discover'),
        search,
        this.#publicList,
        this.#error,
      ),
      this.#main,
    );

    client.on('state', (change) => setText(this.#state, change.state));
    client.on('event', (event) => this.#onEvent(event));
    client.on('typing', (event) => {
      if (this.#open?.roomId === event.roomId) this.#open.onTyping(event.user);
    });
    client.on('read', (event) => {
      const room = this.#rooms.get(event.roomId);
      if (room === undefined) return;
      room.lastReadSeq = Math.max(room.lastReadSeq, event.seq);
      if (this.#open?.roomId === event.roomId) room.unread = 0;
      this.#renderRooms();
    });
    client.on('room_added', (event) => this.#addRoom({ ...event.room, lastReadSeq: event.room.lastSeq, unread: 0 }));
    client.on('room_removed', (event) => {
      this.#rooms.delete(event.roomId);
      if (this.#open?.roomId === event.roomId) void this.#closeRoom();
      this.#renderRooms();
    });
  }

  async start(): Promise<void> {
    await this.#client.connect();
    for (const room of await this.#client.rest.listRooms()) this.#rooms.set(room.id, room);
    this.#renderRooms();
    await this.#discover('');
    // Every room I am in is subscribed, so unread counts stay live; the open one renders.
    await Promise.all([...this.#rooms.keys()].map((id) => this.#client.subscribe(id)));
  }

  #onEvent(event: StreamEvent): void {
    const room = this.#rooms.get(event.roomId);
    if (room !== undefined) {
      room.lastSeq = Math.max(room.lastSeq, event.seq);
      const isOpen = this.#open?.roomId === event.roomId;
      if (event.kind === 'message' && event.user.id !== this.#me.id && !isOpen) room.unread++;
      this.#renderRooms();
    }
    if (this.#open?.roomId === event.roomId) this.#open.onEvent(event);
  }

  #addRoom(room: MemberRoom): void {
    const known = this.#rooms.has(room.id);
    this.#rooms.set(room.id, room);
    this.#renderRooms();
    if (!known) void this.#guard(async () => void (await this.#client.subscribe(room.id)));
  }

  #renderRooms(): void {
    clear(this.#roomList);
    const rooms = [...this.#rooms.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const room of rooms) {
      const item = h(
        'li',
        { class: this.#open?.roomId === room.id ? 'room-item active' : 'room-item', 'data-testid': 'room-item', 'data-room-id': room.id },
        h('button', { type: 'button', onclick: () => void this.#guard(() => this.#openRoom(room.id)) }, room.visibility === 'private' ? `🔒 ${room.name}` : `# ${room.name}`),
        room.unread > 0 ? h('span', { class: 'badge', 'data-testid': 'unread' }, String(room.unread)) : null,
      );
      this.#roomList.append(item);
    }
  }

  async #discover(q: string): Promise<void> {
    const rooms = await this.#client.rest.publicRooms(q.trim() === '' ? undefined : q.trim(), 20);
    clear(this.#publicList);
    for (const room of rooms) this.#publicList.append(this.#publicItem(room));
  }

  #publicItem(room: Room): HTMLElement {
    const joined = this.#rooms.has(room.id);
    const join = h('button', { type: 'button', class: 'secondary', disabled: joined, 'data-testid': 'join' }, joined ? 'Joined' : 'Join');
    join.addEventListener('click', () => {
      void this.#guard(async () => {
        const joinedRoom = await this.#client.rest.joinRoom(room.id);
        this.#addRoom({ ...joinedRoom, lastReadSeq: joinedRoom.lastSeq, unread: 0 });
        join.disabled = true;
        setText(join, 'Joined');
        await this.#openRoom(room.id);
      });
    });
    return h('li', { class: 'public-room', 'data-testid': 'public-room', 'data-room-id': room.id }, h('span', {}, room.name), join);
  }

  async #openRoom(roomId: string): Promise<void> {
    const room = this.#rooms.get(roomId);
    if (room === undefined || this.#open?.roomId === roomId) return;
    await this.#closeRoom();
    const view = new RoomView(this.#client, this.#me, room);
    this.#open = view;
    room.unread = 0;
    this.#renderRooms();
    clear(this.#main);
    this.#main.append(view.element);
    await view.open();
  }

  async #closeRoom(): Promise<void> {
    this.#open?.close();
    this.#open = null;
    clear(this.#main);
    this.#main.append(h('p', { class: 'empty' }, 'Pick a room, or create one.'));
  }

  async #guard(action: () => Promise<void>): Promise<void> {
    setText(this.#error, '');
    try {
      await action();
    } catch (error) {
      setText(this.#error, describeError(error));
    }
  }
}
