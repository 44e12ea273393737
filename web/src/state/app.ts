/**
 * The signed-in app's state: the connection, my rooms, the public rooms, the open room and where
 * the URL says to be. It routes the SDK's events: stream events to the unread counts and the
 * open room, membership changes to the room list, typing and presence to the open room.
 */
import { effect, type Signal, signal, untracked } from '@preact/signals';
import { ParleyError, type Room, type StateChange, type User } from '../../../client/index.js';
import type { Api } from '../api.js';
import { describeError, roomLabel } from '../format.js';
import { announcement, notify, pageTitle } from './attention.js';
import { RoomSession } from './room.js';
import { RoomsStore } from './rooms.js';
import { NotificationsState } from './notifications.js';
import { navigate, route } from './route.js';

const DISCOVER_LIMIT = 20;
/** How often the Discover list is fetched again while the page is visible. */
const DISCOVER_REFRESH_MS = 10_000;

export class AppState {
  readonly api: Api;
  readonly me: User;
  readonly rooms: RoomsStore;
  readonly notifications: NotificationsState;
  /** My profile as it is now (display name, status): `me` is who signed in. */
  readonly profile: Signal<User>;
  /** The users I blocked, by id. */
  readonly blocked = signal<ReadonlySet<string>>(new Set());
  readonly connection = signal<StateChange>({ state: 'connecting' });
  /** The browser says it has no network: shown at once, before the heartbeat notices. */
  readonly offline = signal(!navigator.onLine);
  readonly error = signal('');
  readonly open = signal<RoomSession | null>(null);
  /** Why the room the URL names cannot be shown. */
  readonly openError = signal('');
  readonly discoverQuery = signal('');
  readonly publicRooms = signal<readonly Room[] | null>(null);
  readonly discoverError = signal('');
  /** What the live region reads out. */
  readonly announcement = signal('');
  readonly #onSignedOut: () => void;
  readonly #stops: Array<() => void> = [];
  #discoverGeneration = 0;
  #signedOut = false;

  constructor(api: Api, me: User, onSignedOut: () => void) {
    this.api = api;
    this.me = me;
    this.rooms = new RoomsStore(me.id);
    this.notifications = new NotificationsState(api);
    this.profile = signal(me);
    this.#onSignedOut = onSignedOut;
  }

  /** Connects, loads my rooms and the public ones, follows every room I am in, and the URL. */
  async start(): Promise<void> {
    this.#listen();
    this.api.connect().catch((error: unknown) => {
      if (!this.#signedOut) this.error.value = describeError(error);
    });
    const [mine, blocked] = await Promise.all([this.api.listRooms(), this.api.blockedIds(), this.refreshDiscover()]);
    this.blocked.value = new Set(blocked);
    this.rooms.load(mine);
    // Every room I am in is followed, so its unread count stays live while another is open.
    for (const roomId of this.rooms.ids()) this.#follow(roomId);
    this.#stops.push(
      effect(() => {
        const to = route.value;
        // Only the route re-runs this: what opening a room reads must not.
        untracked(() => {
          if (to.name === 'room' || to.name === 'thread') {
            void this.#openRoom(to.roomId, to.name === 'room' ? to.seq : null);
            // The room already open: its thread follows the address (a new session opens its own).
            const open = this.open.peek();
            if (open?.roomId === to.roomId) open.openThread(to.name === 'thread' ? to.root : null);
          } else this.#closeRoom();
        });
      }),
      effect(() => {
        const open = this.rooms.openId.value;
        const room = open === null ? undefined : this.rooms.get(open);
        document.title = pageTitle(this.rooms.totalUnread.value, room === undefined ? null : roomLabel(room, this.me));
      }),
    );
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void this.refreshDiscover();
    }, DISCOVER_REFRESH_MS);
    // Coming back to the tab, the list is fetched at once rather than at the next tick.
    const focused = () => void this.refreshDiscover();
    window.addEventListener('focus', focused);
    this.#stops.push(
      () => clearInterval(timer),
      () => window.removeEventListener('focus', focused),
    );
  }

  #listen(): void {
    const api = this.api;
    const online = () => {
      this.offline.value = !navigator.onLine;
      // The network is back: no point waiting out the backoff.
      if (navigator.onLine) api.retryNow();
    };
    window.addEventListener('online', online);
    window.addEventListener('offline', online);
    this.#stops.push(
      () => window.removeEventListener('online', online),
      () => window.removeEventListener('offline', online),
      api.on('state', (change) => this.#onConnection(change)),
      api.on('event', (event) => {
        this.rooms.onEvent(event);
        const open = this.open.peek();
        if (open?.roomId === event.roomId) open.onEvent(event);
        // A desktop notification for a message in another room while I am here; with the tab
        // hidden, the server's notifications (below) decide, as my levels, mutes and blocks say.
        const message = event.kind === 'message' && event.user.id !== this.me.id ? event.message : undefined;
        if (message !== undefined && open?.roomId !== event.roomId && document.visibilityState !== 'hidden') this.#notify(event.roomId, message.author.displayName, message.body);
      }),
      api.on('typing', (event) => {
        const open = this.open.peek();
        if (open?.roomId === event.roomId) open.onTyping(event.user);
      }),
      api.on('user_updated', (event) => {
        if (event.user.id === this.me.id) this.profile.value = event.user;
        const open = this.open.peek();
        if (open?.roomId === event.roomId) open.onUserUpdated(event.user);
      }),
      api.on('presence', (event) => {
        const open = this.open.peek();
        if (open?.roomId === event.roomId) open.onPresence(event.userId, event.online);
      }),
      api.on('notification', (event) => {
        this.notifications.onNotification(event);
        const n = event.notification;
        if (document.visibilityState === 'hidden') notify(`${n.author.displayName} in ${n.roomName}`, n.excerpt, n.roomId, () => navigate({ name: 'room', roomId: n.roomId, seq: n.seq }));
      }),
      api.on('notifications_read', (event) => this.notifications.onRead(event.upTo)),
      api.on('read', (event) => this.rooms.markedRead(event.roomId, event.seq)),
      api.on('room_added', (event) => {
        if (this.rooms.add(event.room)) this.#follow(event.room.id);
        void this.refreshDiscover();
      }),
      api.on('room_removed', (event) => this.#leftRoom(event.roomId)),
      api.on('subscription_lost', (event) => this.#leftRoom(event.roomId)),
      api.on('recovery_needed', (event) => {
        // Too much was missed to replay: history and counts are fetched afresh.
        const open = this.open.peek();
        if (open?.roomId === event.roomId) void this.#openRoom(event.roomId, null, true);
        api.listRooms().then(
          (rooms) => this.rooms.load(rooms),
          (error: unknown) => {
            this.error.value = `Your rooms could not be reloaded: ${describeError(error)}`;
          },
        );
      }),
    );
  }

  #notify(roomId: string, author: string, body: string): void {
    const room = this.rooms.get(roomId);
    if (room === undefined) return;
    notify(`${author} in ${roomLabel(room, this.me)}`, body, roomId, () => navigate({ name: 'room', roomId, seq: null }));
  }

  #follow(roomId: string): void {
    this.api.subscribe(roomId).catch((error: unknown) => {
      if (!this.#signedOut) this.error.value = describeError(error);
    });
  }

  #leftRoom(roomId: string): void {
    const open = this.open.peek();
    this.rooms.remove(roomId);
    void this.refreshDiscover();
    if (open?.roomId === roomId) navigate({ name: 'home' }, { replace: true });
  }

  #onConnection(change: StateChange): void {
    this.connection.value = change;
    if (change.state === 'open') {
      this.error.value = '';
      // Notifications made while the connection was down came as no event: count them afresh.
      void this.notifications.refreshCount();
    }
    if (change.state !== 'closed' || change.error === undefined || this.#signedOut) return;
    // Refused for good: either the session is gone (sign in again) or the server will not
    // take this page's connection (say so).
    const reason = change.error;
    this.api.me().then(
      () => {
        this.error.value = `Disconnected: ${reason.message}`;
      },
      (error: unknown) => {
        if (error instanceof ParleyError && error.code === 'unauthorized') void this.signOut();
        else this.error.value = `Disconnected: ${reason.message}`;
      },
    );
  }

  /** Fetches the public rooms matching the Discover search box. */
  async refreshDiscover(): Promise<void> {
    const generation = ++this.#discoverGeneration;
    const q = this.discoverQuery.peek().trim();
    try {
      const rooms = await this.api.publicRooms(q === '' ? undefined : q, DISCOVER_LIMIT);
      if (generation !== this.#discoverGeneration) return;
      this.publicRooms.value = rooms;
      this.discoverError.value = '';
    } catch (error) {
      if (generation === this.#discoverGeneration) this.discoverError.value = describeError(error);
    }
  }

  /** A room I just created, joined or opened a DM with: listed, followed, and opened. */
  entered(room: Room): void {
    if (this.rooms.add(room)) this.#follow(room.id);
    navigate({ name: 'room', roomId: room.id, seq: null });
  }

  async setBlocked(userId: string, blocked: boolean): Promise<void> {
    await (blocked ? this.api.block(userId) : this.api.unblock(userId));
    const next = new Set(this.blocked.peek());
    if (blocked) next.add(userId);
    else next.delete(userId);
    this.blocked.value = next;
  }

  async leave(roomId: string): Promise<void> {
    await this.api.leaveRoom(roomId);
    this.#leftRoom(roomId);
  }

  async #openRoom(roomId: string, seq: number | null, reload = false): Promise<void> {
    const current = this.open.peek();
    if (current?.roomId === roomId && !reload) {
      // The room again without a message: back to its newest messages if a window around an older one shows.
      if (seq !== null) await current.jumpTo(seq);
      else if (current.hasNewer.peek()) await current.jumpToPresent();
      return;
    }
    const room = this.rooms.get(roomId);
    if (room === undefined) {
      this.#closeRoom();
      this.openError.value = this.rooms.loaded.peek() ? 'This room does not exist, or you are not a member of it.' : '';
      return;
    }
    current?.close();
    this.openError.value = '';
    const session = new RoomSession({
      api: this.api,
      me: this.me,
      room,
      onRead: (readSeq) => this.rooms.markedRead(roomId, readSeq),
      onIncoming: (message) => {
        this.announcement.value = announcement(message);
      },
    });
    this.open.value = session;
    this.rooms.open(roomId);
    // A room opened afresh (a reload after a gap too long to replay) keeps the thread its address names.
    const at = route.peek();
    if (at.name === 'thread' && at.roomId === roomId) session.openThread(at.root);
    try {
      await session.open(seq);
    } catch (error) {
      if (this.open.peek() !== session) return;
      session.close();
      this.open.value = null;
      this.rooms.open(null);
      this.openError.value = `The room could not be opened: ${describeError(error)}`;
    }
  }

  #closeRoom(): void {
    this.open.peek()?.close();
    this.open.value = null;
    this.openError.value = '';
    this.rooms.open(null);
  }

  async signOut(): Promise<void> {
    if (this.#signedOut) return;
    this.#signedOut = true;
    this.#closeRoom();
    for (const stop of this.#stops) stop();
    await this.api.close();
    this.#onSignedOut();
  }
}
