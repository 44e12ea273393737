/**
 * Presence: a user is online while they hold a connection. Coming online and going offline are
 * announced in every room of the user, as `presence` events.
 *
 * Announcements are throttled per user: a change is announced at once, then the user's window
 * stays open for `announceIntervalMs`; changes inside it are not announced one by one, and when
 * it closes the user's state is read again (from the shared presence, so across every node) and
 * announced. It is announced even when it equals this node's last announcement: another node
 * may have announced otherwise meanwhile. A client reconnecting in a loop therefore costs its
 * rooms one or two presence frames per interval instead of two per reconnection, and the last
 * state announced is always the true one once things settle.
 *
 * Connecting and disconnecting never fail because presence could not be recorded: while its
 * store is down (`unavailable`) the change is skipped, and heals by itself. The adapter keeps
 * this node's connections and writes them back with its next heartbeat; entries a failed
 * disconnect left behind expire within the TTL and are swept and announced offline. Only the
 * announcement of that one change is lost. `onlineIn` has no such fallback: it answers
 * `unavailable`, since an empty list would be a wrong answer, not a late one.
 */
import { AppError } from '../errors.js';
import type { Presence, Store } from '../ports.js';
import type { Publisher } from './publisher.js';

export interface PresenceServiceOptions {
  /** Least time between two announcements of one user by this process, ms (0: no throttling). */
  announceIntervalMs: number;
  onError(error: unknown): void;
}

interface Window {
  timer: NodeJS.Timeout;
  /** A change came while the window was open. */
  dirty: boolean;
}

export class PresenceService {
  readonly #store: Store;
  readonly #presence: Presence;
  readonly #publisher: Publisher;
  readonly #memberIds: (roomId: string) => Promise<string[]>;
  readonly #options: PresenceServiceOptions;
  readonly #windows = new Map<string, Window>();

  /** `memberIds`: the user ids of a room's members (cached: asked on every subscribe). */
  constructor(store: Store, presence: Presence, publisher: Publisher, memberIds: (roomId: string) => Promise<string[]>, options: PresenceServiceOptions) {
    this.#store = store;
    this.#presence = presence;
    this.#publisher = publisher;
    this.#memberIds = memberIds;
    this.#options = options;
  }

  async connected(userId: string, connectionId: string): Promise<void> {
    await skipOutage(async () => {
      if (await this.#presence.connect(userId, connectionId)) await this.#changed(userId, true);
    });
  }

  async disconnected(userId: string, connectionId: string): Promise<void> {
    await skipOutage(async () => {
      if (await this.#presence.disconnect(userId, connectionId)) await this.#changed(userId, false);
    });
  }

  /** Announces users whose connections expired with a crashed node. */
  async expired(userIds: string[]): Promise<void> {
    for (const userId of userIds) await this.#changed(userId, false);
  }

  /** Online members of a room. */
  async onlineIn(roomId: string): Promise<string[]> {
    return [...(await this.#presence.online(await this.#memberIds(roomId)))];
  }

  /** Users whose announcement window is open. */
  get throttled(): number {
    return this.#windows.size;
  }

  /** Closes every window now, announcing what changed (at shutdown, while the bus is still open). */
  async flush(): Promise<void> {
    await Promise.all([...this.#windows.keys()].map((userId) => this.#close(userId, false)));
  }

  async #changed(userId: string, online: boolean): Promise<void> {
    const open = this.#windows.get(userId);
    if (open !== undefined) {
      open.dirty = true;
      return;
    }
    this.#open(userId);
    await this.#announce(userId, online);
  }

  #open(userId: string): void {
    if (this.#options.announceIntervalMs <= 0) return;
    this.#windows.set(userId, { timer: this.#timer(userId), dirty: false });
  }

  #timer(userId: string): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#close(userId, true).catch(this.#options.onError);
    }, this.#options.announceIntervalMs);
    timer.unref();
    return timer;
  }

  /**
   * Ends the user's window: if anything changed inside it, reads the state and announces it. The
   * window stays open meanwhile (changes during the read mark it again), and after an
   * announcement it starts over, unless `reopen` is false (shutdown).
   */
  async #close(userId: string, reopen: boolean): Promise<void> {
    const window = this.#windows.get(userId);
    if (window === undefined) return;
    clearTimeout(window.timer);
    if (!window.dirty) {
      this.#windows.delete(userId);
      return;
    }
    window.dirty = false;
    let announced = false;
    try {
      const online = (await this.#presence.online([userId])).has(userId);
      announced = true;
      await this.#announce(userId, online);
    } finally {
      if (this.#windows.get(userId) === window) {
        if (reopen && (announced || window.dirty)) window.timer = this.#timer(userId);
        else this.#windows.delete(userId);
      }
    }
  }

  async #announce(userId: string, online: boolean): Promise<void> {
    for (const roomId of await this.#store.listMemberRoomIds(userId)) {
      this.#publisher.presence(roomId, { type: 'presence', roomId, userId, online });
    }
  }
}

/** Runs a presence change; an outage skips it (see above), any other error is the caller's. */
async function skipOutage(change: () => Promise<void>): Promise<void> {
  try {
    await change();
  } catch (error) {
    if (!(error instanceof AppError && error.code === 'unavailable')) throw error;
  }
}
