/**
 * The signed-in app: the sidebar (me, the connection, my rooms, discovery) and the open room.
 * It routes the SDK's events: stream events to the unread counts and the open room, membership
 * changes to the room list, typing to the open room.
 */
import type { ConnectionState, ParleyClient, StateChange, User } from '../../client/index.js';
import { ParleyError } from '../../client/index.js';
import { DiscoverView } from './discover-view.js';
import { describeError, h, replaceChildren, setText } from './dom.js';
import { RoomView } from './room-view.js';
import { RoomsView } from './rooms-view.js';
import { RoomsState } from './state.js';

const STATE_LABELS: Record<ConnectionState, string> = {
  connecting: 'connecting…',
  open: 'connected',
  reconnecting: 'reconnecting…',
  closed: 'offline',
};

export interface AppViewOptions {
  client: ParleyClient;
  me: User;
  /** The session ended (logout, or it was revoked): back to signing in. */
  onSignedOut: () => void;
}

export class AppView {
  readonly element: HTMLElement;
  readonly #client: ParleyClient;
  readonly #me: User;
  readonly #state: RoomsState;
  readonly #discover: DiscoverView;
  readonly #onSignedOut: () => void;
  readonly #main = h('main', { class: 'main' });
  readonly #connection = h('span', { class: 'connection', role: 'status', 'data-testid': 'connection-state', 'data-state': 'connecting' }, STATE_LABELS.connecting);
  readonly #error = h('p', { class: 'error', role: 'alert' });
  readonly #unsubscribe: Array<() => void> = [];
  #open: RoomView | null = null;
  #signedOut = false;

  constructor({ client, me, onSignedOut }: AppViewOptions) {
    this.#client = client;
    this.#me = me;
    this.#onSignedOut = onSignedOut;
    this.#state = new RoomsState(me.id);
    const open = (roomId: string) => void this.#openRoom(roomId);
    const rooms = new RoomsView({ client, state: this.#state, open });
    this.#discover = new DiscoverView({ client, state: this.#state, open });

    const logout = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'logout' }, 'Log out');
    logout.addEventListener('click', () => {
      logout.disabled = true;
      client.rest
        .logout()
        .then(() => this.#signOut())
        .catch((error: unknown) => {
          logout.disabled = false;
          setText(this.#error, `Could not log out: ${describeError(error)}`);
        });
    });

    this.element = h(
      'div',
      { class: 'app' },
      h(
        'aside',
        { class: 'sidebar' },
        h(
          'header',
          { class: 'me' },
          h('div', { class: 'who' }, h('strong', { 'data-testid': 'me' }, me.displayName), h('span', { class: 'username' }, `@${me.username}`)),
          logout,
        ),
        this.#connection,
        this.#error,
        rooms.element,
        this.#discover.element,
      ),
      this.#main,
    );
    this.#showEmpty();
    this.#listen();
  }

  /** Connects, loads my rooms and the public ones, and follows every room I am in. */
  async start(): Promise<void> {
    this.#client.connect().catch((error: unknown) => {
      if (!this.#signedOut) setText(this.#error, describeError(error));
    });
    const [mine] = await Promise.all([this.#client.rest.listRooms(), this.#discover.refresh()]);
    this.#state.load(mine);
    // Every room I am in is followed, so its unread count stays live while another is open.
    for (const roomId of this.#state.ids()) this.#follow(roomId);
  }

  #listen(): void {
    const client = this.#client;
    this.#unsubscribe.push(
      client.on('state', (change) => this.#onConnection(change)),
      client.on('event', (event) => {
        this.#state.onEvent(event);
        if (this.#open?.roomId === event.roomId) this.#open.onEvent(event);
      }),
      client.on('typing', (event) => {
        if (this.#open?.roomId === event.roomId) this.#open.onTyping(event.user);
      }),
      client.on('read', (event) => this.#state.markedRead(event.roomId, event.seq)),
      client.on('room_added', (event) => {
        if (this.#state.add(event.room)) this.#follow(event.room.id);
      }),
      client.on('room_removed', (event) => this.#leftRoom(event.roomId)),
      client.on('subscription_lost', (event) => this.#leftRoom(event.roomId)),
      client.on('recovery_needed', (event) => {
        // Too much was missed to replay: history and counts are fetched afresh.
        if (this.#open?.roomId === event.roomId) void this.#openRoom(event.roomId, true);
        client.rest.listRooms().then(
          (rooms) => this.#state.load(rooms),
          () => {},
        );
      }),
    );
  }

  #follow(roomId: string): void {
    this.#client.subscribe(roomId).catch((error: unknown) => {
      if (!this.#signedOut) setText(this.#error, describeError(error));
    });
  }

  #leftRoom(roomId: string): void {
    if (this.#open?.roomId === roomId) this.#closeRoom();
    this.#state.remove(roomId);
  }

  #onConnection(change: StateChange): void {
    setText(this.#connection, STATE_LABELS[change.state]);
    this.#connection.dataset.state = change.state;
    if (change.state === 'open') setText(this.#error, '');
    if (change.state !== 'closed' || change.error === undefined || this.#signedOut) return;
    // Refused for good: either the session is gone (sign in again) or the server will not
    // take this page's connection (say so).
    const reason = change.error;
    this.#client.rest.me().then(
      () => setText(this.#error, `Disconnected: ${reason.message}`),
      (error: unknown) => {
        if (error instanceof ParleyError && error.code === 'unauthorized') void this.#signOut();
        else setText(this.#error, `Disconnected: ${reason.message}`);
      },
    );
  }

  async #openRoom(roomId: string, reload = false): Promise<void> {
    const room = this.#state.get(roomId);
    if (room === undefined || (this.#open?.roomId === roomId && !reload)) return;
    this.#open?.close();
    const view = new RoomView({ client: this.#client, me: this.#me, room, onRead: (seq) => this.#state.markedRead(roomId, seq) });
    this.#open = view;
    this.#state.open(roomId);
    replaceChildren(this.#main, view.element);
    try {
      await view.open();
    } catch (error) {
      if (this.#open !== view) return;
      view.close();
      this.#open = null;
      this.#state.open(null);
      replaceChildren(this.#main, h('p', { class: 'error pane-message', role: 'alert' }, `The room could not be opened: ${describeError(error)}`));
    }
  }

  #closeRoom(): void {
    this.#open?.close();
    this.#open = null;
    this.#state.open(null);
    this.#showEmpty();
  }

  #showEmpty(): void {
    replaceChildren(this.#main, h('p', { class: 'pane-message' }, 'Pick a room on the left, or create one.'));
  }

  async #signOut(): Promise<void> {
    if (this.#signedOut) return;
    this.#signedOut = true;
    this.#open?.close();
    this.#open = null;
    for (const stop of this.#unsubscribe) stop();
    await this.#client.close();
    this.#onSignedOut();
  }
}
