/**
 * Presence: a user is online while they hold a connection, and for the offline grace
 * (`PRESENCE_OFFLINE_GRACE_MS`) after their last one closed, so a reconnection within it is no
 * change at all. Coming online and going offline are announced in every room of the user;
 * each node turns the announcements into `presence` frames, coalesced per room
 * (src/realtime/room-hub.ts).
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
 * announcement of that one change is lost. `online` has no such fallback: it answers
 * `unavailable`, since an empty list would be a wrong answer, not a late one.
 */
import { AppError } from '../errors.js';
import type { Presence, Store } from '../ports.js';
import type { Publisher } from './publisher.js';

export interface PresenceServiceOptions {
  /** Least time between two announcements of one user by this process, ms (0: no throttling). */
  announceIntervalMs: number;
  /** The adapter's offline grace, ms: when a lingering user is settled. */
  offlineGraceMs: number;
  onError(error: unknown): void;
}

interface Window {
  timer: NodeJS.Timeout;
  /** A change came while the window was open. */
  dirty: boolean;
}

/** Settling a moment after the grace's end, so the adapter's clock has passed it. */
const SETTLE_MARGIN_MS = 20;

export class PresenceService {
  readonly #store: Store;
  readonly #presence: Presence;
  readonly #publisher: Publisher;
  readonly #options: PresenceServiceOptions;
  readonly #windows = new Map<string, Window>();
  /** Users whose grace runs, with the timer that settles them. */
  readonly #settling = new Map<string, NodeJS.Timeout>();
  #missed = false;

  constructor(store: Store, presence: Presence, publisher: Publisher, options: PresenceServiceOptions) {
    this.#store = store;
    this.#presence = presence;
    this.#publisher = publisher;
    this.#options = options;
  }

  async connected(userId: string, connectionId: string): Promise<void> {
    const skipped = await skipOutage(async () => {
      if (await this.#presence.connect(userId, connectionId)) await this.#changed(userId, true);
    });
    if (skipped) this.#missed = true;
  }

  async disconnected(userId: string, connectionId: string): Promise<void> {
    const skipped = await skipOutage(async () => {
      const drop = await this.#presence.disconnect(userId, connectionId);
      if (drop === 'offline') await this.#changed(userId, false);
      else if (drop === 'lingering') this.#settleLater(userId);
    });
    if (skipped) this.#missed = true;
  }

  /** Asks, once the user's grace has run out, whether they are offline (one timer per user, the latest). */
  #settleLater(userId: string): void {
    clearTimeout(this.#settling.get(userId));
    const timer = setTimeout(() => {
      if (this.#settling.get(userId) === timer) this.#settling.delete(userId);
      skipOutage(async () => {
        if (await this.#presence.settle(userId)) await this.#changed(userId, false);
      }).then((skipped) => {
        if (skipped) this.#missed = true;
      }, this.#options.onError);
    }, this.#options.offlineGraceMs + SETTLE_MARGIN_MS);
    timer.unref();
    this.#settling.set(userId, timer);
  }

  /** Announces users whose connections expired with a crashed node. */
  async expired(userIds: string[]): Promise<void> {
    for (const userId of userIds) await this.#changed(userId, false);
  }

  /** Which of `userIds` are online (each room open on a node asks once, then follows the announcements). */
  online(userIds: Iterable<string>): Promise<Set<string>> {
    return this.#presence.online([...userIds]);
  }

  /**
   * Whether a change was skipped for an outage since the last call: the rooms open on this node
   * then read their online members again once presence answers (their sets missed it).
   */
  takeMissed(): boolean {
    const missed = this.#missed;
    this.#missed = false;
    return missed;
  }

  /** Users whose announcement window is open. */
  get throttled(): number {
    return this.#windows.size;
  }

  /** Closes every window now, announcing what changed (at shutdown, while the bus is still open). */
  async flush(): Promise<void> {
    // Graces still running are settled by the other nodes' sweep (or are moot: this process is the last).
    for (const timer of this.#settling.values()) clearTimeout(timer);
    this.#settling.clear();
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
      this.#publisher.presence(roomId, userId, online);
    }
  }
}

/** Runs a presence change; an outage skips it (see above) and returns true, any other error is the caller's. */
async function skipOutage(change: () => Promise<void>): Promise<boolean> {
  try {
    await change();
    return false;
  } catch (error) {
    if (!(error instanceof AppError && error.code === 'unavailable')) throw error;
    return true;
  }
}
